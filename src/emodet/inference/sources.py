"""Turning what a user names on the command line into inputs: images, videos and streams.

A source is an image file, a directory (searched recursively), a glob pattern, a video file,
a webcam index, a stream URL, or any of the first four on another filesystem written as a URI
(``s3://bucket/photos/``, :mod:`emodet.inference.remote`). Expansion never fails: a missing
path becomes an input that carries its error, so a batch run records it and goes on.

Directories are walked without following symbolic links to directories (as ``find`` does by
default), for folders and ``**`` globs alike, so a symlink loop can neither repeat inputs nor
make listing endless; a file reached under two names is listed once.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from emodet.imageio import IMAGE_SUFFIXES
from emodet.inference.patterns import glob_regex, media_kind, split_glob
from emodet.inference.remote import is_remote
from emodet.inference.video import VIDEO_SUFFIXES, is_url, is_webcam


@dataclass(frozen=True)
class Input:
    name: str  # what results and errors are reported under
    kind: str  # "image", "video" or "stream"
    error: str | None = None  # set when the source could not be resolved
    # Videos only: the frame range to read (the Ray engine splits long videos; stop None: to the end).
    start: int = 0
    stop: int | None = None


def expand_sources(sources: list[str]) -> list[Input]:
    """All inputs named by ``sources``, in order, each file once (by its real path)."""
    inputs: list[Input] = []
    for source in sources:
        inputs.extend(_expand(str(source)))
    seen, unique = set(), []
    for item in inputs:
        local = item.kind != "stream" and not item.error and not is_remote(item.name)
        key = os.path.realpath(item.name) if local else item.name
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root``, in sorted order, never entering symlinked directories."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file():  # also drops broken links
                yield path


def _expand(source: str) -> list[Input]:
    if is_webcam(source) or is_url(source):
        return [Input(source, "stream")]
    from emodet.inference.remote import list_inputs

    if is_remote(source):  # s3://, gs://, file://, ...: listed through pyarrow/fsspec
        return [Input(uri, kind or "image", error) for uri, kind, error in list_inputs(source)]
    path = Path(source).expanduser()
    if path.is_dir():
        files = [p for p in walk_files(path) if media_kind(p)]
        if not files:
            return [Input(source, "image", f"directory {source} holds no image or video files "
                                           f"({', '.join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))})")]
        return [Input(str(p), media_kind(p)) for p in files]
    if path.is_file():
        return [Input(str(path), media_kind(path) or "image")]
    if path.is_symlink():
        return [Input(source, "image", f"{source} is a broken symbolic link (it points to "
                                       f"{os.readlink(path)!r}, which does not resolve to a file)")]
    if glob.has_magic(source):
        files = list(_glob(str(path)))
        if not files:
            return [Input(source, "image", f"no files match {source}")]
        return [Input(str(p), media_kind(p) or "image") for p in files]
    return [Input(source, "image", f"{source} does not exist (expected an image, a video, a directory, a glob "
                                   "pattern, a webcam index such as 0, or an rtsp:// or http:// URL)")]


def _glob(pattern: str) -> Iterator[Path]:
    """Files matching ``pattern`` (``*``, ``?``, ``[...]``; ``**`` for any depth), found by walking
    from its literal prefix without following directory symlinks (unlike :func:`glob.glob`)."""
    top, below = split_glob(pattern)
    root, regex = Path(top), re.compile(glob_regex(below))
    if not root.is_dir():
        return
    for path in walk_files(root):
        if regex.fullmatch(path.relative_to(root).as_posix()):
            yield path
