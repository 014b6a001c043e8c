"""A small cache for model files that emodet downloads on first use (face-detector weights).

Some detectors need a model file that is not shipped inside a Python wheel. :func:`fetch` returns
the local path of such a file: it uses the cached copy when its SHA-256 matches, and otherwise
downloads the file once from its publisher, checks the SHA-256 and moves it into the cache
atomically, so an interrupted or tampered download never ends up in the cache.

Where the cache lives (the first that applies):

1. ``$EMODET_CACHE``, when set and not empty;
2. ``$XDG_CACHE_HOME/emodet``, when ``XDG_CACHE_HOME`` is set (the Linux convention);
3. ``~/.cache/emodet``.

Machines without internet access can fill the cache by hand: copy the file (same file name) into
the cache directory, and :func:`fetch` will use it once its checksum matches. Nothing here runs at
import time; only :func:`fetch` touches the disk or the network.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

from emodet.errors import ConfigError, ModelError

#: Seconds to wait for the server on each connect and read before giving up.
DOWNLOAD_TIMEOUT_S = 30.0

#: Refuse a download larger than this (the known files are under 1 MB): guards against a
#: redirect to the wrong resource filling the disk.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024

_CHUNK_BYTES = 1 << 16


class ModelFile(NamedTuple):
    """A downloadable model file: its name in the cache, where it comes from, and its SHA-256."""

    filename: str
    url: str
    sha256: str


#: The files :func:`fetch` knows, by short name.
MODEL_FILES: dict[str, ModelFile] = {
    # YuNet face detector (OpenCV Zoo, MIT licence), the dynamic-input export made for OpenCV 5.
    # GitHub serves it through Git LFS; urllib follows the redirect to media.githubusercontent.com.
    "yunet": ModelFile(
        filename="face_detection_yunet_2026may.onnx",
        url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
            "face_detection_yunet_2026may.onnx",
        sha256="ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
    ),
    # MediaPipe BlazeFace, short-range model (faces within about 2 m of the camera), Apache-2.0.
    "blazeface_short_range": ModelFile(
        filename="face_detection_short_range.tflite",
        url="https://github.com/google-ai-edge/mediapipe/raw/master/mediapipe/modules/face_detection/"
            "face_detection_short_range.tflite",
        sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    ),
}


def cache_dir() -> Path:
    """The directory where downloaded model files are kept (see the module docstring for the order)."""
    explicit = os.environ.get("EMODET_CACHE", "").strip()
    if explicit:
        return Path(os.path.expanduser(explicit))
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(os.path.expanduser(xdg)) / "emodet"
    return Path(os.path.expanduser("~")) / ".cache" / "emodet"


#: Known files that ship inside the package (``emodet/assets/detectors``), by short name.
PACKAGED = ("yunet",)


def packaged_path(name: str) -> Path | None:
    """The copy of ``name`` shipped inside emodet, checked against its SHA-256; ``None`` if not shipped.

    A shipped copy with the wrong checksum is a damaged installation: a :class:`ModelError` says so.
    """
    from importlib import resources

    spec = _lookup(name)
    if name not in PACKAGED:
        return None
    path = Path(str(resources.files("emodet") / "assets" / "detectors" / spec.filename))
    if not path.is_file():
        return None
    if _verified_sha(path, path.stat().st_mtime_ns) != spec.sha256:
        raise ModelError(f"the face detector file {path} shipped with emodet is damaged (its SHA-256 is not "
                         f"{spec.sha256}); reinstall emodet")
    return path


@functools.lru_cache(maxsize=8)
def _verified_sha(path: Path, mtime_ns: int) -> str:
    del mtime_ns  # part of the cache key: a replaced file is hashed again
    return sha256_of(path)


def fetch(name: str, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Return the local path of the known model file ``name``, downloading it on first use.

    A cached copy is used only when its SHA-256 matches; a missing or corrupt copy is downloaded
    again. Raises :class:`ConfigError` for an unknown ``name`` and :class:`ModelError` when the file
    cannot be obtained (no network, server error, checksum mismatch, unwritable cache); the message
    names the file, the URL and the cache path and says how to place the file by hand.
    """
    spec = _lookup(name)
    target = cache_dir() / spec.filename
    stale = target.is_file()
    if stale and sha256_of(target) == spec.sha256:
        return target
    try:
        _download(name, spec, target, timeout)
    except ModelError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = f"the download failed ({_describe(exc)})"
        if stale:
            reason = f"the cached copy has the wrong SHA-256 (corrupt or outdated) and {reason}"
        raise ModelError(_failure_message(name, spec, target, reason)) from exc
    return target


def _lookup(name: str) -> ModelFile:
    """The registry entry for ``name``, or a :class:`ConfigError` with close matches."""
    try:
        return MODEL_FILES[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), MODEL_FILES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown model file {name!r}; known files: "
                          f"{', '.join(sorted(MODEL_FILES))}.{hint}") from None


def _download(name: str, spec: ModelFile, target: Path, timeout: float) -> None:
    """Download ``spec.url`` next to ``target``, verify it, then rename it into place atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # The temporary file sits in the cache directory so the final os.replace never crosses
    # file systems; concurrent downloads each get their own temporary name.
    handle, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=target.parent)
    tmp_path = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _copy_url(spec.url, out, timeout)
        if digest != spec.sha256:
            raise ModelError(_failure_message(
                name, spec, target,
                f"the downloaded file has SHA-256 {digest}, expected {spec.sha256} (a changed or wrong file "
                "on the server, or a proxy that rewrote it)"))
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def _copy_url(url: str, out, timeout: float) -> str:
    """Stream ``url`` into the open binary file ``out`` and return the SHA-256 of what was written."""
    digest = hashlib.sha256()
    written = 0
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed https URLs)
        while chunk := response.read(_CHUNK_BYTES):
            written += len(chunk)
            if written > MAX_DOWNLOAD_BYTES:
                raise ValueError(f"the server sent more than {MAX_DOWNLOAD_BYTES:,} bytes")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _failure_message(name: str, spec: ModelFile, target: Path, reason: str) -> str:
    """An error message that says what failed and the two ways to fix it."""
    return (f"cannot get the model file {spec.filename!r} ({name}): {reason}. "
            f"It is downloaded from {spec.url} into the cache at {target}. "
            f"To fix: connect to the internet and retry, or download that URL on another machine and copy the "
            f"file to {target} (set EMODET_CACHE to use another cache directory); its SHA-256 must be {spec.sha256}. "
            + ("Or reinstall emodet, whose package holds its own copy of this file." if name in PACKAGED else
               "Or use the default detector yunet (leave --detector out, or create_detector('yunet')), which "
               "ships inside emodet and works offline."))


def _describe(exc: BaseException) -> str:
    """A short, readable reason for a download exception (URLError hides the cause in .reason)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__
