"""What several verbs share: exit statuses, file-name stems for models, the test-time augmentation
and inference options, quiet media libraries."""

from __future__ import annotations

import dataclasses
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


def add_inference_options(parser) -> None:
    """The options of :class:`~emodet.inference.settings.InferenceSettings` that ``detect`` and
    ``serve`` share (``--detector``, ``--max-side``, ``--tracked-side``, ``--smoothing``, ``--tta``/``--tta-crops``)."""
    from emodet.inference.settings import DEFAULT_MAX_SIDE, DEFAULT_SMOOTHING, DEFAULT_TRACKED_SIDE

    parser.add_argument("--detector", help="face detector: yunet (default), mtcnn (slower, most robust on turned "
                                           "faces) or blazeface")
    parser.add_argument("--max-side", type=int, default=None, metavar="PIXELS",
                        help="shrink images to at most this many pixels on their longer side before face detection "
                             f"(mtcnn and yunet; default {DEFAULT_MAX_SIDE}; 0 = never shrink, for small faces in "
                             "very wide or tall images, slower)")
    parser.add_argument("--tracked-side", type=int, default=None, metavar="PIXELS",
                        help="on video and streams, search frames for faces at this longer side while every face "
                             f"being followed is large (default {DEFAULT_TRACKED_SIDE}; a full-size search still "
                             "comes every 10 frames and when a face goes missing); 0 = always full size")
    parser.add_argument("--smoothing", type=float, default=None,
                        help="on video and streams, weight of the past in each face's moving average "
                             f"(0 = off, default {DEFAULT_SMOOTHING})")
    add_tta_options(parser, timing=True)


def inference_settings(args):
    """The :class:`~emodet.inference.settings.InferenceSettings` the options of
    :func:`add_inference_options` ask for (a bad value: a :class:`ConfigError` naming it)."""
    from emodet.inference.settings import InferenceSettings, check_search_side
    from emodet.inference.tracking import check_smoothing

    for flag, value in (("--max-side", args.max_side), ("--tracked-side", args.tracked_side)):
        check_search_side(value or None, flag, off="0")  # checked here to name the flag, not the field
    if args.smoothing is not None:
        check_smoothing(args.smoothing, "--smoothing")
    settings = InferenceSettings().updated(detector=args.detector, smoothing=args.smoothing, tta=args.tta)
    sizes = {name: value or None for name, value in (("max_side", args.max_side), ("tracked_side", args.tracked_side))
             if value is not None}  # 0 turns a size off (None), which updated() would read as "left out"
    return dataclasses.replace(settings, **sizes)


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


def check_output_folder(path: Path | None, flag: str) -> None:
    """Refuse, before any work, an output file whose folder does not exist or that names a folder."""
    from emodet.errors import EmodetError

    if path is None:
        return
    if path.is_dir():
        raise EmodetError(f"{flag} {path} is a folder: give a file name, e.g. {path / 'report.html'}")
    if not path.parent.is_dir():
        raise EmodetError(f"{flag} {path}: the folder {path.parent} does not exist; create it or choose another")
