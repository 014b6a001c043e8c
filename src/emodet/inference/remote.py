"""Inputs on filesystems other than the local disk: ``s3://``, ``gs://``, ``hdfs://``, ``file://``, ...

A source written as a URI is listed (a file, a folder searched recursively, or a glob) and read
through pyarrow's filesystem layer, which speaks S3, GCS, HDFS, Azure and the local disk with the
credentials the environment gives those services; any other fsspec filesystem works when fsspec
is installed. Images are decoded from their bytes; a video is first copied to a local temporary
file, because OpenCV reads only local files and network streams. Results name each input by its
URI. pyarrow comes with the ``ray`` extra (``pip install "emodet[ray]"``).
"""

from __future__ import annotations

import contextlib
import glob
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

import numpy as np

from emodet.errors import MediaError
from emodet.imageio import decode_image
from emodet.inference.patterns import glob_regex, media_kind, split_glob
from emodet.inference.video import is_url

_URI = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)


def is_remote(source) -> bool:
    """Whether ``source`` is a filesystem URI (not a stream URL such as ``rtsp://`` or ``http://``)."""
    return isinstance(source, str) and bool(_URI.match(source)) and not is_url(source)


def list_inputs(source: str) -> list[tuple[str, str | None, str | None]]:
    """``(uri, kind, error)`` for every image or video ``source`` names, sorted; kind is ``"image"``
    or ``"video"``. A source that cannot be listed gives one entry with its error."""
    scheme = _URI.match(source).group(0)
    try:
        fs, path = _filesystem(source)
        pattern = path if glob.has_magic(path) else None
        root = split_glob(path)[0] if pattern else path
        info = fs.get_file_info(root)
        if info.type.name == "File" and not pattern:
            return [(source, _kind(path) or "image", None)]
        if info.type.name != "Directory":
            return [(source, None, f"{source} does not exist (no file or folder there)")]
        from pyarrow.fs import FileSelector

        found = fs.get_file_info(FileSelector(root, recursive=True))
    except MediaError as exc:
        return [(source, None, str(exc))]
    except OSError as exc:
        return [(source, None, f"cannot list {source} ({exc}); check the address and your credentials")]
    regex = re.compile(glob_regex(pattern)) if pattern else None
    files = sorted(f.path for f in found if f.type.name == "File" and _kind(f.path)
                   and (regex is None or regex.fullmatch(f.path)))
    if not files:
        what = "matches" if pattern else "holds no image or video files under"
        return [(source, None, f"nothing {what} {source}")]
    return [(scheme + f, _kind(f), None) for f in files]


def read_remote_image(uri: str) -> np.ndarray:
    """The image at ``uri`` as RGB uint8, or :class:`MediaError` naming it."""
    return decode_image(_read_bytes(uri), uri)


def local_copy(uri: str, folder: str | Path) -> Path:
    """``uri`` copied into ``folder`` (for OpenCV, which reads only local files); returns the copy."""
    fs, path = _filesystem(uri)
    target = Path(folder) / PurePosixPath(path).name
    with _opened(fs, path, uri) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    return target


def temporary_folder() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="emodet-remote-")


def _read_bytes(uri: str) -> bytes:
    fs, path = _filesystem(uri)
    with _opened(fs, path, uri) as stream:
        return stream.read()


@contextlib.contextmanager
def _opened(fs, path: str, uri: str):
    """``fs.open_input_stream(path)``, its read errors (at open or while reading) named by ``uri``."""
    try:
        with fs.open_input_stream(path) as stream:
            yield stream
    except OSError as exc:
        raise MediaError(f"cannot read {uri} ({exc}); check that it exists and that you may read it") from None


def _filesystem(uri: str):
    """(pyarrow filesystem, path inside it) for ``uri``: pyarrow's own, else an fsspec one."""
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise MediaError(f"reading {uri} needs pyarrow; install it with pip install \"emodet[ray]\"") from None
    try:
        return pafs.FileSystem.from_uri(uri)
    except OSError as exc:  # pyarrow knows the scheme but cannot reach the store
        raise MediaError(f"cannot reach {uri} ({exc}); check the address, the network and your credentials") from None
    except (ValueError, NotImplementedError) as arrow_error:
        try:
            import fsspec

            fs, path = fsspec.core.url_to_fs(uri)
        except (ImportError, ValueError, OSError) as exc:
            raise MediaError(f"no filesystem reads {uri} (pyarrow: {arrow_error}; fsspec: {exc}); check the "
                             "scheme (s3://, gs://, hdfs://, file://) or install the fsspec package for it") from None
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def _kind(path: str) -> str | None:
    return media_kind(PurePosixPath(path))
