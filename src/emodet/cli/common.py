"""What several verbs share: exit statuses, file-name stems for models, quiet media libraries."""

from __future__ import annotations

import os
from pathlib import Path

EXIT_USAGE = 2  # a bad argument, file or setting: one line on stderr
EXIT_FAILURES = 1  # the work ran, but some inputs failed or the verdict is no


def model_stem(text: str | None, path: Path | None) -> str:
    """A file-name stem for a model argument: its own, ``NAME-vVERSION`` style for a reference."""
    if text is None:
        return "bundled"
    if path is not None and text == str(path):
        return path.stem
    return text.removeprefix("models:/").replace("/", "-v").replace("@", "-")


def quiet_media_libraries() -> None:
    """Hide OpenCV's, ffmpeg's and Pillow's own messages: the command reports problems itself."""
    import warnings

    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    warnings.filterwarnings("ignore", module="PIL")
