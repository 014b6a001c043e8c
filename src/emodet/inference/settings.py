"""How faces are found, cut out and classified: one settings object for every way detection runs.

The detect CLI, the Python API (:class:`~emodet.inference.pipeline.EmotionDetector`), the server and
the Ray actors each take an :class:`InferenceSettings`, so an option added here reaches all four at
once, and every default below is the one they all use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from emodet.errors import ConfigError
from emodet.inference.align import ALIGNMENTS, DEFAULT_ALIGNMENT, DEFAULT_MARGIN
from emodet.inference.detectors import DEFAULT_DETECTOR
from emodet.inference.tracking import DEFAULT_SMOOTHING, check_smoothing

#: On video and streams, the longer side at which frames are searched for faces while every face
#: being followed is large (about 100 px and up in a 640-px frame): a quarter of the pixels of a
#: full-size search: a 640x480 frame with one face in 6.6 ms instead of 14.3 on a 2-core CPU
#: (benchmarks/tracked_search.py).
#: ``None`` always searches at ``max_side``.
DEFAULT_TRACKED_SIDE = 320

#: Images are shrunk to this many pixels on their longer side before face detection (the detectors
#: that take ``max_side``: yunet, mtcnn); ``None`` never shrinks (small faces in huge images).
DEFAULT_MAX_SIDE = 640

#: The smallest longer side, in pixels, a frame may be searched for faces at (``max_side``, ``tracked_side``).
MIN_SEARCH_SIDE = 64


def check_search_side(value: int | None, name: str, off: str = "None") -> None:
    """Refuse a search size below MIN_SEARCH_SIDE; ``off`` is how the caller spells "no size" (None, or
    0 on the command line), ``name`` how it spells the option."""
    if value is not None and value < MIN_SEARCH_SIDE:
        raise ConfigError(f"{name} must be {off} (off: always full size) or at least {MIN_SEARCH_SIDE} pixels, "
                          f"got {value}")


@dataclass(frozen=True)
class InferenceSettings:
    """Face detector, detection size, crop, test-time augmentation and smoothing, with their defaults."""

    detector: str = DEFAULT_DETECTOR  # a name from emodet.inference.detectors.list_detectors()
    max_side: int | None = DEFAULT_MAX_SIDE
    margin: float = DEFAULT_MARGIN  # context around the face box, a fraction of its longer side
    alignment: str = DEFAULT_ALIGNMENT  # "template" (landmarks onto FER2013's layout) or "box"
    tta: str | None = None  # None, "flip" or "crops" (emodet.inference.tta)
    smoothing: float = DEFAULT_SMOOTHING
    # On video and streams, while every followed face is large, faces are searched at this longer side
    # (full size every few frames and whenever a face goes missing); None: always at max_side.
    tracked_side: int | None = DEFAULT_TRACKED_SIDE
    # Further options of the face detector (its constructor's keywords, e.g. score_threshold).
    detector_options: tuple[tuple[str, object], ...] = field(default=())

    def __post_init__(self):
        from emodet.inference.tta import tta_mode

        object.__setattr__(self, "tta", tta_mode(self.tta))
        check_smoothing(self.smoothing)
        check_search_side(self.max_side, "max_side")
        check_search_side(self.tracked_side, "tracked_side")
        if self.alignment not in ALIGNMENTS:
            raise ConfigError(f"alignment must be one of {', '.join(ALIGNMENTS)}, got {self.alignment!r}")

    def updated(self, **changes) -> InferenceSettings:
        """A copy with the ``changes`` that are not ``None`` (what a caller left out keeps its value)."""
        return dataclasses.replace(self, **{key: value for key, value in changes.items() if value is not None})

    def to_dict(self) -> dict:
        """The settings as plain JSON values (written at the head of a batch run's records)."""
        return {**dataclasses.asdict(self), "detector_options": dict(self.detector_options)}

    def new_tracker(self):
        """A tracker that follows faces across the frames of one video or stream, smoothing as set."""
        from emodet.inference.tracking import FaceTracker

        return FaceTracker(smoothing=self.smoothing)

    def create_detector(self):
        """The face detector these settings name, with ``max_side`` for the detectors that take it."""
        from emodet.inference.detectors import create_detector, detector_accepts

        options = dict(self.detector_options)
        if detector_accepts(self.detector, "max_side"):
            options.setdefault("max_side", self.max_side)
        return create_detector(self.detector, **options)
