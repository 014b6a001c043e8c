"""Turn detected faces into the square, eye-levelled crops the emotion classifier expects.

When the detector gave landmarks, the face is mapped by a similarity transform (rotation, scale,
shift) that puts its eyes, nose and mouth where FER2013 faces have them (:data:`FER2013_TEMPLATE`):
the eyes end up level (the classifier was trained on upright faces, and a head roll of 20 degrees
is enough to change its answer) and the face fills the crop as training faces fill theirs,
whatever box the detector draws (boxes vary in size by about +-10% from face to face; landmarks
vary less). Without landmarks, or with ``alignment="box"``, the crop is a square around the centre
of the detector's box, rotated to level the eyes when they are known. Either way ``margin`` widens
it by that fraction of its side on each side.

Rotation, crop and scale are composed into one affine matrix and applied in a single
``cv2.warpAffine``, so the image is resampled once and the rotated corners are filled from the real
image instead of black. Pixels outside the image repeat the edge (``BORDER_REPLICATE``), so faces
at the border still give full crops. When the crop is shrunk, ``warpAffine`` cannot average (it
silently treats ``INTER_AREA`` as bilinear, which aliases); the warp then samples at the crop's
native resolution and ``cv2.resize`` with ``INTER_AREA`` does the shrinking.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from emodet.errors import ConfigError, MediaError
from emodet.inference.detectors import DetectedFace

#: Extra context on each side of the face box, as a fraction of the box's longer side.
#: 0 because that is what FER2013 looks like: FER2013 faces fill the whole 48x48 frame, hairline to
#: chin, cheek to cheek. Measured on 150 FER2013 images (upscaled 3x, padded with grey): the longer
#: side of YuNet's box is 1.00x the image side (median; quartiles 0.92-1.07) and mtcnn's 1.04x, i.e. the
#: classifier's training crops are the detector box itself (BlazeFace's boxes are rescaled to the same
#: convention in its detector). Every 0.1 of margin shrinks the face to 1/1.2 of the crop and adds
#: hair and background the classifier never saw in training; raise it only for a model trained on
#: looser crops.
DEFAULT_MARGIN = 0.0

#: How a face is cut out: ``template`` maps its landmarks onto FER2013's layout; ``box`` takes the
#: square around the detector's box (eyes levelled by rotation). ``benchmarks/pipeline_fidelity.py
#: --alignment`` compares them with feeding FER2013 faces directly: on all of PublicTest, with the
#: bundled model, ``template`` loses 0.09 points and ``box`` 0.47, each +-0.6 (docs/MODEL_CARD.md).
ALIGNMENTS = ("template", "box")
DEFAULT_ALIGNMENT = "template"

#: Where FER2013 faces have their eyes (image left, image right), nose tip and mouth centre, in
#: units of the 48x48 frame: the medians of YuNet's landmarks on 1,366 upscaled Training faces
#: (tools/measure_face_template.py), made left-right symmetric (x mirrored about 0.5; the measured
#: asymmetry was under 0.001). Each point varies by about 0.07 (interquartile range) across FER2013.
FER2013_TEMPLATE = np.array([[0.3096, 0.3838], [0.6904, 0.3838], [0.5, 0.5857], [0.5, 0.7567]])


def template_points(landmarks: np.ndarray) -> np.ndarray:
    """The four points alignment uses, from a detector's five: both eyes, the nose tip, the mouth centre
    (BlazeFace gives one mouth point, the others two corners; their mean is the centre for all)."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    return np.stack([landmarks[0], landmarks[1], landmarks[2], (landmarks[3] + landmarks[4]) / 2.0])


def align_face(rgb: np.ndarray, face: DetectedFace, size: int, margin: float = DEFAULT_MARGIN,
               alignment: str = DEFAULT_ALIGNMENT) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 crop of ``face`` from the RGB frame ``rgb``, eyes levelled when known."""
    rgb = _check_frame(rgb)
    size, margin = _check_size(size), _check_margin(margin)
    matrix, side = _crop_transform(face, margin, _check_alignment(alignment))
    if side <= size:  # enlarging (or same size): one bilinear warp straight to the output size
        return _warp(rgb, _scaled(matrix, size / side), size, cv2.INTER_LINEAR)
    # Shrinking: warp at (about) native resolution, then average pixels down with INTER_AREA.
    native = max(size, math.ceil(side))
    crop = _warp(rgb, _scaled(matrix, native / side), native, cv2.INTER_LINEAR)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def align_faces(rgb: np.ndarray, faces, size: int, margin: float = DEFAULT_MARGIN,
                alignment: str = DEFAULT_ALIGNMENT) -> np.ndarray:
    """Crops of every face in ``faces`` as one ``(N, size, size, 3)`` uint8 batch (N may be 0)."""
    size = _check_size(size)
    crops = [align_face(rgb, face, size, margin, alignment) for face in faces]
    if not crops:
        return np.empty((0, size, size, 3), np.uint8)
    return np.stack(crops)


def alignment_matrix(face: DetectedFace, size: int, margin: float = DEFAULT_MARGIN,
                     alignment: str = DEFAULT_ALIGNMENT) -> np.ndarray:
    """The 2x3 affine matrix mapping frame pixels to pixels of ``align_face``'s ``size`` x ``size`` crop.

    Use it to carry points (landmarks, for instance) into the crop, or its inverse
    (``cv2.invertAffineTransform``) to carry points from the crop back to the frame.
    """
    matrix, side = _crop_transform(face, _check_margin(margin), _check_alignment(alignment))
    return _scaled(matrix, _check_size(size) / side)[:2]


def eye_angle(face: DetectedFace) -> float:
    """The head roll in degrees: the angle of the line from the first eye to the second (0 when level,
    positive when the second eye, on the image's right, sits lower). 0 when there are no landmarks."""
    if face.landmarks is None:
        return 0.0
    (x0, y0), (x1, y1) = face.landmarks[0], face.landmarks[1]
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def _crop_transform(face: DetectedFace, margin: float, alignment: str) -> tuple[np.ndarray, float]:
    """A 3x3 matrix mapping frame pixels to a crop whose top-left corner is 0 and whose side is ``side``
    (frame pixels, unscaled), and that side.

    ``template``: with landmarks, the eyes are levelled and the eyes, nose and mouth are scaled and
    shifted onto :data:`FER2013_TEMPLATE` (:func:`eye_level_fit`). ``box``, and ``template`` without
    landmarks or when they disagree with the box by more than a factor of two (a tiny or half-hidden
    face): the square of side ``max(w, h)`` around the box centre, rotated about the eyes' midpoint
    to level them when landmarks are known. Either way ``margin`` widens it on each side.
    """
    if face.landmarks is not None and alignment == "template":
        aligned = _template_transform(face, margin)
        if aligned is not None:
            return aligned
    x, y, w, h = face.box
    side = max(w, h, 1.0) * (1.0 + 2.0 * margin)
    rotation = np.eye(3)
    if face.landmarks is not None:
        eyes_mid = (face.landmarks[0] + face.landmarks[1]) / 2.0
        # getRotationMatrix2D turns by +angle counter-clockwise on screen, which undoes a roll of +angle.
        rotation[:2] = cv2.getRotationMatrix2D((float(eyes_mid[0]), float(eyes_mid[1])), eye_angle(face), 1.0)
    cx, cy, _ = rotation @ np.array([x + w / 2.0, y + h / 2.0, 1.0])
    to_corner = np.array([[1.0, 0.0, side / 2.0 - cx], [0.0, 1.0, side / 2.0 - cy], [0.0, 0.0, 1.0]])
    return to_corner @ rotation, side


def _template_transform(face: DetectedFace, margin: float = 0.0) -> tuple[np.ndarray, float] | None:
    """Frame pixels -> the crop (side in frame pixels) that puts the face's landmarks on the template."""
    to_unit = eye_level_fit(template_points(face.landmarks), FER2013_TEMPLATE)
    scale = math.hypot(to_unit[0, 0], to_unit[1, 0])
    box_side = max(face.box[2], face.box[3], 1.0)
    if not scale > 0 or not 0.5 <= (1.0 / scale) / box_side <= 2.0:
        return None
    side = (1.0 + 2.0 * margin) / scale
    k = 1.0 / (1.0 + 2.0 * margin)  # the template's unit square, shrunk to leave the margin around it
    widen = np.array([[k, 0.0, margin * k], [0.0, k, margin * k], [0.0, 0.0, 1.0]])
    return np.diag([side, side, 1.0]) @ widen @ to_unit, side


def eye_level_fit(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 3x3 transform that levels the eyes (``points[0]`` -> ``points[1]``, as in ``target``) and
    then scales and shifts ``points`` onto ``target`` in the least-squares sense.

    The rotation comes from the eyes alone, so they always end up level; the scale and shift use
    every point, which keeps one noisy landmark from setting the face's size.
    """
    points, target = np.asarray(points, np.float64), np.asarray(target, np.float64)
    dx, dy = points[1] - points[0]
    tx, ty = target[1] - target[0]
    angle = math.atan2(ty, tx) - math.atan2(dy, dx)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    rotated = points @ rotation.T
    p, q = rotated - rotated.mean(axis=0), target - target.mean(axis=0)
    norm = float((p ** 2).sum())
    scale = float((p * q).sum()) / norm if norm > 0 else 0.0
    matrix = np.eye(3)
    matrix[:2, :2] = scale * rotation
    matrix[:2, 2] = target.mean(axis=0) - scale * rotated.mean(axis=0)
    return matrix


def _scaled(matrix: np.ndarray, factor: float) -> np.ndarray:
    """``matrix`` followed by a uniform scale about the crop's top-left corner."""
    return np.diag([factor, factor, 1.0]) @ matrix


def _warp(rgb: np.ndarray, matrix: np.ndarray, side: int, interpolation: int) -> np.ndarray:
    return cv2.warpAffine(rgb, matrix[:2], (side, side), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)


def _check_frame(rgb) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 \
            or min(rgb.shape[:2]) < 1:
        got = f"dtype {rgb.dtype} shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise MediaError(f"align_face() takes the RGB uint8 (H, W, 3) frame the face was detected in, got {got}; "
                         "convert with emodet.imageio.as_rgb_array")
    return rgb


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ConfigError(f"crop size must be a positive integer number of pixels (e.g. the model's 48), got {size!r}")
    return int(size)


def _check_alignment(alignment) -> str:
    if alignment not in ALIGNMENTS:
        raise ConfigError(f"alignment must be one of {', '.join(ALIGNMENTS)}, got {alignment!r}")
    return alignment


def _check_margin(margin) -> float:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0.0 <= margin <= 2.0:
        raise ConfigError(f"crop margin must be a fraction of the face box from 0 to 2 (e.g. {DEFAULT_MARGIN}), "
                          f"got {margin!r}")
    return float(margin)
