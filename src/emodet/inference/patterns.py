"""What local and remote input listing share: glob patterns over ``/``-separated paths, and which
files are media (images or videos, by suffix)."""

from __future__ import annotations

import glob
import re
from pathlib import Path, PurePosixPath

from emodet.imageio import IMAGE_SUFFIXES
from emodet.inference.video import VIDEO_SUFFIXES


def split_glob(pattern: str) -> tuple[str, str]:
    """``pattern`` cut before its first part with a wildcard: the folder to search from (``"."``
    when the pattern starts with one) and the pattern of the paths below it."""
    parts = PurePosixPath(pattern).parts
    literal = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    return (str(PurePosixPath(*parts[:literal])) if literal else "."), "/".join(parts[literal:])


def glob_regex(pattern: str) -> str:
    """A glob pattern over ``/``-separated relative paths as a regex (``**/`` spans zero or more folders)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def media_kind(path: Path | PurePosixPath) -> str | None:
    """``"image"`` or ``"video"`` by the file's suffix; ``None`` for anything else."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None
