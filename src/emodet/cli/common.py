"""What several verbs share: exit statuses, file-name stems for models, the test-time augmentation
options, quiet media libraries."""

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


def add_tta_options(parser, timing: bool = False) -> None:
    """``--tta`` (flip) and ``--tta-crops`` (ten crops), both into ``args.tta`` (``None`` without either);
    ``timing`` adds what each costs in classification time (for the verbs that detect)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--tta", action="store_const", const="flip", dest="tta",
                       help="average each face with its mirror image, slightly more accurate"
                            + (" (2x the classification time)" if timing else ""))
    group.add_argument("--tta-crops", action="store_const", const="crops", dest="tta",
                       help="average each face over ten views, five crops of it and their mirror images: about "
                            "a point more accurate than --tta on FER2013"
                            + (" (10x the classification time)" if timing else ""))


def tta_suffix(tta: str | None) -> str:
    """The file-name part for an evaluation made with ``tta``: ``-tta`` (flip), ``-tta-crops``, or none."""
    return "" if tta is None else "-tta" if tta == "flip" else f"-tta-{tta}"


def quiet_media_libraries() -> None:
    """Hide OpenCV's, ffmpeg's and Pillow's own messages: the command reports problems itself."""
    import warnings

    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    warnings.filterwarnings("ignore", module="PIL")
