"""Turning what a user names on the command line into inputs: images, videos and streams.

A source is an image file, a directory (searched recursively), a glob pattern, a video file,
a webcam index or a stream URL. Expansion never fails: a missing path becomes an input that
carries its error, so a batch run records it and goes on.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from emodet.imageio import IMAGE_SUFFIXES
from emodet.inference.video import VIDEO_SUFFIXES, is_url, is_webcam


@dataclass(frozen=True)
class Input:
    name: str  # what results and errors are reported under
    kind: str  # "image", "video" or "stream"
    error: str | None = None  # set when the source could not be resolved


def expand_sources(sources: list[str]) -> list[Input]:
    """All inputs named by ``sources``, in order, without duplicates."""
    inputs: list[Input] = []
    for source in sources:
        inputs.extend(_expand(str(source)))
    seen, unique = set(), []
    for item in inputs:
        if item.name not in seen:
            seen.add(item.name)
            unique.append(item)
    return unique


def _expand(source: str) -> list[Input]:
    if is_webcam(source) or is_url(source):
        return [Input(source, "stream")]
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _media_kind(p))
        if not files:
            return [Input(source, "image", f"directory {source} holds no image or video files "
                                           f"({', '.join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))})")]
        return [Input(str(p), _media_kind(p)) for p in files]
    if path.is_file():
        return [Input(str(path), _media_kind(path) or "image")]
    if glob.has_magic(source):
        matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
        files = [p for p in matches if p.is_file()]
        if not files:
            return [Input(source, "image", f"no files match {source}")]
        return [Input(str(p), _media_kind(p) or "image") for p in files]
    return [Input(source, "image", f"{source} does not exist (expected an image, a video, a directory, a glob "
                                   "pattern, a webcam index such as 0, or an rtsp:// or http:// URL)")]


def _media_kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None
