"""Test-time augmentation: the views of each face whose predictions are averaged.

Two modes, both measured in docs/MODEL_CARD.md; each costs its number of views in classification
time, so they are meant for batch work rather than live video:

- ``"flip"``: the face and its mirror image (2 views).
- ``"crops"``: five crops of 46/48 of the face (four corners and the centre), each enlarged back to
  the model's input size, and their mirror images (10 views): the ten-crop evaluation of the
  published FER2013 recipes, a point more accurate than ``"flip"`` on PublicTest for the bundled
  model, whose training zooms and shifts faces by similar amounts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from emodet.errors import ConfigError

TTA_MODES = ("flip", "crops")
CROP_FRACTION = 46 / 48  # measured on PublicTest against 44/48 (docs/MODEL_CARD.md)
_LABELS = {"flip": "flip TTA", "crops": "ten-crop TTA"}


def tta_mode(tta: bool | str | None) -> str | None:
    """The mode ``tta`` names: ``None``/``False``/``"none"`` -> ``None``, ``True`` -> ``"flip"``."""
    if tta is None or tta is False or tta == "none":
        return None
    if tta is True:
        return "flip"
    if tta not in TTA_MODES:
        raise ConfigError(f"test-time augmentation {tta!r} is not known; expected one of {', '.join(TTA_MODES)} "
                          "(or none; true means flip)")
    return tta


def tta_label(tta: bool | str | None) -> str:
    """Words for reports: ``"flip TTA"``, ``"ten-crop TTA"``, or ``""`` without augmentation."""
    mode = tta_mode(tta)
    return "" if mode is None else _LABELS[mode]


def tta_views(faces: np.ndarray, tta: bool | str | None) -> Iterator[np.ndarray]:
    """The views of a batch of square face crops ``(N, S, S[, C])`` that ``tta`` averages over, made
    one at a time (ten copies of a large batch need not be held at once)."""
    mode = tta_mode(tta)
    if mode is None or len(faces) == 0:
        yield faces
        return
    for base in ([faces] if mode == "flip" else _five_crops(faces)):
        yield base
        yield np.ascontiguousarray(base[:, :, ::-1])


def predict_with_tta(predict: Callable[[np.ndarray], np.ndarray], faces: np.ndarray,
                     tta: bool | str | None) -> np.ndarray:
    """``predict`` (faces -> probabilities) averaged over the views of ``tta``."""
    total, count = 0.0, 0
    for view in tta_views(faces, tta):
        total, count = total + np.asarray(predict(view), np.float32), count + 1
    return total / count


def _five_crops(faces: np.ndarray) -> Iterator[np.ndarray]:
    import cv2

    from emodet.data.images import resize_images

    size = faces.shape[1]
    crop = max(1, round(size * CROP_FRACTION))
    far, mid = size - crop, (size - crop) // 2
    for top, left in ((0, 0), (0, far), (far, 0), (far, far), (mid, mid)):
        # Enlarging, so no antialiasing is needed; bilinear like the training zoom.
        yield resize_images(faces[:, top:top + crop, left:left + crop], size, cv2.INTER_LINEAR)
