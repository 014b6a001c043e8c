"""Face crops of labelled photos, made the way ``emodet detect`` makes them.

New data usually arrives as photos, not aligned 48x48 crops. :class:`LargestFaceCrop` runs each
photo through the same face detector and alignment as the detection pipeline and keeps the
largest face, so a model is evaluated (or retrained) on what it will see when deployed.
"""

from __future__ import annotations

import numpy as np


class LargestFaceCrop:
    """``crop(rgb)`` -> the aligned ``size`` x ``size`` crop of the photo's largest face, or ``None``."""

    def __init__(self, size: int, detector: str | object | None = None):
        from emodet.inference.detectors import DEFAULT_DETECTOR, create_detector

        self.size = size
        self.detector = create_detector(detector or DEFAULT_DETECTOR) if detector is None or isinstance(detector, str) \
            else detector

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        from emodet.inference.align import align_face

        faces = self.detector.detect(rgb)
        if not faces:
            return None
        largest = max(faces, key=lambda face: face.box[2] * face.box[3])
        return align_face(rgb, largest, self.size)
