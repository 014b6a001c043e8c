"""Face detectors behind one interface: RGB frame in, scored boxes with five landmarks out.

Three detectors are registered (see :func:`list_detectors`):

``yunet`` (the default, :data:`DEFAULT_DETECTOR`)
    OpenCV Zoo's YuNet through ``cv2.FaceDetectorYN``: fast (15-30 ms per 640x480 frame), accurate
    boxes, five landmarks. Its 230 kB ONNX file (MIT) ships inside emodet, so it works offline right
    after ``pip install``.
``mtcnn``
    PyPI ``mtcnn`` 1.x on TensorFlow, weights inside its wheel. The most robust of the three on
    half-profile and partly hidden faces, with the most accurate landmarks, and the slowest
    (0.1-0.3 s per 640x480 frame on 2 CPU cores).
``blazeface``
    MediaPipe's BlazeFace short-range model run directly with LiteRT (``ai_edge_litert``): the
    fastest (2-3 ms per frame), made for faces within about 2 m of the camera (selfies,
    webcams). Its ``.tflite`` file is downloaded once into the model cache.

Every detector takes an RGB uint8 ``(H, W, 3)`` array and returns :class:`DetectedFace` objects
with boxes in input-image pixels, clipped to the image and sorted by score (best first).

Constructing a detector loads its model, so construct it once and reuse it for every frame.
Constructing ``blazeface`` (or ``yunet`` in an installation without its packaged file) calls
:func:`emodet.inference.model_files.fetch`, which downloads the model file on first use (and raises
:class:`~emodet.errors.ModelError` offline);
nothing downloads at import time. TensorFlow is imported only when an ``mtcnn`` detector is built.
A detector keeps per-frame state (YuNet's input size), so use one instance per thread.
"""

from __future__ import annotations

import abc
import contextlib
import difflib
import functools
import inspect
import math
from dataclasses import dataclass, field
from typing import ClassVar

import cv2
import numpy as np

from emodet.errors import ConfigError, MediaError, ModelError
from emodet.inference.model_files import fetch, packaged_path

#: The detector used when none is named: it needs no download.
DEFAULT_DETECTOR = "yunet"


@dataclass(frozen=True, eq=False)
class DetectedFace:
    """One face found in a frame.

    Attributes:
        box: ``(x, y, w, h)`` of the face in input-image pixels, clipped to the image.
        score: the detector's confidence in ``[0, 1]``. Scores are not comparable across detectors.
        landmarks: float32 ``(5, 2)`` array of ``(x, y)`` points in input-image pixels, or ``None``:
            ``[eye on the image's left, eye on the image's right, nose tip, mouth corner on the image's
            left, mouth corner on the image's right]``. Strictly, the detectors give the subject's right
            eye first and the subject's left eye second; for any face rolled less than 90 degrees that is
            the image-left-to-right order, and keeping the anatomical order lets alignment undo larger
            rolls too. Points are not clipped: a landmark may lie just outside the image.
            The array is read-only, as the dataclass is frozen.

    Equality is identity (``eq=False``): comparing the array field element-wise would be ambiguous.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = field(default=None)

    def __post_init__(self):
        box = tuple(float(v) for v in self.box)
        if len(box) != 4:
            raise ValueError(f"box must be (x, y, w, h), got {self.box!r}")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "score", float(self.score))
        if self.landmarks is not None:
            points = np.array(self.landmarks, dtype=np.float32).reshape(-1, 2)
            if points.shape != (5, 2):
                raise ValueError(f"landmarks must be 5 (x, y) points, got shape {np.shape(self.landmarks)}")
            points.setflags(write=False)
            object.__setattr__(self, "landmarks", points)


class FaceDetector(abc.ABC):
    """Base class of the registered detectors.

    :meth:`detect` checks the frame, runs the subclass's :meth:`_detect`, then clips the boxes to the
    image, drops the ones that end up empty and sorts by score, so every detector honours the same
    output contract. Subclasses set :attr:`name` and implement :meth:`_detect`.
    """

    #: The registry name, as accepted by :func:`create_detector`.
    name: ClassVar[str]

    #: Frames whose shorter side is below this many pixels are too small to hold a detectable face.
    min_frame_side: ClassVar[int] = 8

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Find the faces in an RGB uint8 ``(H, W, 3)`` frame, best score first."""
        rgb = _check_frame(rgb)
        height, width = rgb.shape[:2]
        if min(height, width) < self.min_frame_side:
            return []
        faces = (_clip_face(face, width, height) for face in self._detect(rgb))
        return sorted((face for face in faces if face is not None), key=lambda face: face.score, reverse=True)

    @abc.abstractmethod
    def _detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Detect faces in a checked, C-contiguous RGB uint8 frame; boxes may still leave the image."""

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        args = ", ".join(f"{key}={getattr(self, key)!r}" for key in params if key != "self" and hasattr(self, key))
        return f"{type(self).__name__}({args})"


class MTCNNDetector(FaceDetector):
    """MTCNN (PyPI ``mtcnn`` 1.x, TensorFlow). Works offline; the default detector.

    Args:
        score_threshold: minimum final (ONet) score. Real faces score above 0.99 (the bundled samples
            0.998-0.999, the half-profile camera-man included); the highest score among 20 face-free
            test images was 0.65, so 0.9 drops those while keeping real faces.
        max_side: frames whose longer side exceeds this are downscaled to it before detection (boxes
            are mapped back). 640 keeps a 640x480 frame at full resolution, so faces down to 20 px are
            found there; going to 320 saved only about a third of the time, because mtcnn's cost is
            dominated by per-layer overhead of its many small eager TensorFlow calls rather than by
            pixels. ``None`` disables downscaling.
        min_face_size: the smallest face (in input pixels) to look for, at least 20 (the smallest
            mtcnn can find). Larger values make the detector faster by downscaling the frame further.
            The smallest face actually found is about ``max(min_face_size, 20 * longer_side / max_side)``
            pixels.
        scale_factor: ratio between the sizes of consecutive image-pyramid levels (mtcnn's own default
            is 0.709). 0.6 builds fewer levels, about 30-40% faster on a 640x480 frame, and still found
            every face in a sweep of face widths from 22 to 260 px (0.5 missed some). Must be at most
            0.709: larger values make mtcnn 1.0 build a pyramid level below its 12-px window and then
            silently find nothing.

    The mtcnn package's own ``min_face_size`` argument is always left at 20: mtcnn 1.0 builds too
    deep an image pyramid for larger values and then silently returns no faces, so larger minimum
    sizes are implemented here by downscaling instead.
    """

    name = "mtcnn"
    min_frame_side = 24  # below this mtcnn 1.0's image pyramid has no level to search

    #: mtcnn's minimum face size; its pyramid is only safe for values <= 20 at scale_factor <= 0.709.
    _NATIVE_MIN_FACE = 20
    _MAX_SCALE_FACTOR = 0.709

    def __init__(self, score_threshold: float = 0.9, max_side: int | None = 640, min_face_size: int = 20,
                 scale_factor: float = 0.6):
        self.score_threshold = _check_probability("score_threshold", score_threshold, self.name)
        self.max_side = _check_max_side(max_side, self.name)
        self.min_face_size = _check_int("min_face_size", min_face_size, self.name, minimum=self._NATIVE_MIN_FACE)
        if isinstance(scale_factor, bool) or not isinstance(scale_factor, (int, float)) \
                or not 0.3 <= scale_factor <= self._MAX_SCALE_FACTOR:
            raise ConfigError(f"mtcnn detector: scale_factor must be a number from 0.3 to {self._MAX_SCALE_FACTOR} "
                              f"(larger values make mtcnn 1.0 silently miss every face), got {scale_factor!r}")
        self.scale_factor = float(scale_factor)
        self._mtcnn = self._build()

    @staticmethod
    def _build():
        try:
            from mtcnn import MTCNN
        except ImportError as exc:
            raise ModelError("the 'mtcnn' detector needs the mtcnn package (pip install 'mtcnn>=1.0,<2'), "
                             f"which could not be imported ({exc}); or choose --detector yunet") from exc
        return MTCNN(stages="face_and_landmarks_detection")

    def _detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        height, width = rgb.shape[:2]
        scale = min(_fit_scale(width, height, self.max_side), self._NATIVE_MIN_FACE / self.min_face_size)
        small = _resize(rgb, scale)
        if min(small.shape[:2]) < self.min_frame_side:
            return []
        found = self._mtcnn.detect_faces(small, threshold_onet=self.score_threshold,
                                         scale_factor=self.scale_factor)
        return [_mtcnn_face(item, scale) for item in found]


def _mtcnn_face(item: dict, scale: float) -> DetectedFace:
    """Convert one mtcnn JSON result (found on a frame resized by ``scale``) to a DetectedFace."""
    keypoints = item["keypoints"]
    # mtcnn names points by image side ("left_eye" is on the image's left): already our order.
    order = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
    landmarks = np.array([keypoints[key] for key in order], dtype=np.float32) / scale
    x, y, w, h = (float(v) / scale for v in item["box"])
    return DetectedFace((x, y, w, h), float(item["confidence"]), landmarks)


class YuNetDetector(FaceDetector):
    """YuNet (OpenCV Zoo) through ``cv2.FaceDetectorYN``.

    Its model file ``face_detection_yunet_2026may.onnx`` ships inside the package (checked by SHA-256);
    an installation without it fetches it into the model cache instead (:mod:`emodet.inference.model_files`).

    Args:
        score_threshold: minimum face score. OpenCV's 0.9 default is too strict: YuNet scores real,
            well-lit frontal faces around 0.90 (the bundled astronaut photo scores 0.90 and the
            half-profile camera-man 0.895), so 0.9 loses faces. 0.6 keeps them; among 20 face-free
            images (scikit-image's non-face samples and noise) the highest score was 0.505.
        nms_threshold: overlap (IoU) above which the weaker of two boxes is suppressed.
        max_side: frames whose longer side exceeds this are downscaled to it first (YuNet's cost grows
            with the pixel count); ``None`` disables downscaling. YuNet finds faces down to about 10 px,
            so at 640 a 1920-px-wide frame still yields faces of about 30 px and up.

    Its landmarks follow head roll only partly: for faces rolled by 20 degrees, the eye line turned by
    16 degrees (median of 39 FER2013 faces) and by only 3 on the bundled astronaut photo, where mtcnn
    gives 19-23. Alignment therefore levels rolled faces less completely than with mtcnn.
    """

    name = "yunet"

    def __init__(self, score_threshold: float = 0.6, nms_threshold: float = 0.3, max_side: int | None = 640):
        self.score_threshold = _check_probability("score_threshold", score_threshold, self.name)
        self.nms_threshold = _check_probability("nms_threshold", nms_threshold, self.name)
        self.max_side = _check_max_side(max_side, self.name)
        path = packaged_path("yunet") or fetch("yunet")
        self._input_size = (320, 320)
        try:
            with _opencv_quiet():  # OpenCV 5 warns that its new graph engine ignores the target it sets
                self._net = cv2.FaceDetectorYN.create(str(path), "", self._input_size, self.score_threshold,
                                                      self.nms_threshold, 5000)
        except cv2.error as exc:
            raise ModelError(f"OpenCV {cv2.__version__} cannot load the YuNet model {path} ({exc}); delete the "
                             "file so it is downloaded again, upgrade opencv-python-headless (4.14 and 5.0 are "
                             "known to work), or choose --detector mtcnn") from exc

    def _detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        height, width = rgb.shape[:2]
        scale = _fit_scale(width, height, self.max_side)
        bgr = cv2.cvtColor(_resize(rgb, scale), cv2.COLOR_RGB2BGR)
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._input_size:  # FaceDetectorYN raises "Size does not match" otherwise
            self._net.setInputSize(size)
            self._input_size = size
        _, rows = self._net.detect(bgr)
        if rows is None:  # OpenCV returns None, not an empty array, when there is no face
            return []
        return [_yunet_face(row, scale) for row in rows]


def _yunet_face(row: np.ndarray, scale: float) -> DetectedFace:
    """Convert one YuNet row (x, y, w, h, 5 landmark pairs, score) found at ``scale`` to a DetectedFace.

    YuNet names the points from the subject's side ("right eye" first), which puts them on the
    image's left-to-right for upright faces: the row order is already ours.
    """
    x, y, w, h = (float(v) / scale for v in row[:4])
    landmarks = row[4:14].reshape(5, 2) / scale
    return DetectedFace((x, y, w, h), float(row[14]), landmarks)


class BlazeFaceDetector(FaceDetector):
    """MediaPipe BlazeFace, short-range model, run with LiteRT (no mediapipe package needed).

    The frame is letterboxed to the model's 128x128 input, so this model is meant for faces within
    about 2 m of the camera, i.e. faces at least roughly a tenth of the frame's longer side.
    Constructing it fetches ``face_detection_short_range.tflite`` into the model cache (a download on
    first use; see :mod:`emodet.inference.model_files`).

    Boxes: BlazeFace's own boxes are square, about 17% smaller than mtcnn's and YuNet's and centred
    lower (nose to chin rather than forehead to chin). They are enlarged by 1.2 and moved up by 0.085
    of their side, so that all detectors frame a face the same way and :mod:`emodet.inference.align`
    gives the same crops whichever detector found the face. Both constants are medians of paired
    YuNet/BlazeFace boxes on 291 FER2013 faces (quartiles 1.13-1.26 and 0.05-0.11).

    Landmarks: BlazeFace gives six keypoints (both eyes, nose tip, mouth centre, both ear tragions).
    The 5-point layout's two mouth corners are both set to the mouth centre, rather than inventing
    corner positions; the ears are dropped. The points are coarse (the model sees a face at about
    20-30 px): the eye line of an upright face can be off by 5-10 degrees, which alignment turns into
    a small tilt of the crop.

    Args:
        score_threshold: minimum face score (sigmoid of the model's logit). Real faces score 0.79
            (half-profile camera-man) to 0.92 (astronaut) on the bundled samples; among 20 face-free
            images the highest score was 0.58 (a colour wheel), above MediaPipe's 0.5 default, so the
            default is 0.65.
        nms_threshold: overlap (IoU) above which the weaker of two boxes is suppressed (MediaPipe uses
            0.3 with weighted NMS; plain NMS is used here).
        num_threads: CPU threads for the LiteRT interpreter.
    """

    name = "blazeface"

    _INPUT_SIDE = 128
    #: Raw regression values are in input pixels; dividing by this makes them fractions of the input.
    _REGRESSION_SCALE = 128.0
    #: Logits are clipped to this magnitude before the sigmoid, as MediaPipe does.
    _LOGIT_CLIP = 100.0
    #: Box calibration to the mtcnn/YuNet framing (see the class docstring): side factor, and upward
    #: shift of the centre as a fraction of the raw side.
    _BOX_SCALE = 1.2
    _BOX_SHIFT_UP = 0.085

    def __init__(self, score_threshold: float = 0.65, nms_threshold: float = 0.3, num_threads: int = 2):
        self.score_threshold = _check_probability("score_threshold", score_threshold, self.name)
        self.nms_threshold = _check_probability("nms_threshold", nms_threshold, self.name)
        self.num_threads = _check_int("num_threads", num_threads, self.name, minimum=1)
        path = fetch("blazeface_short_range")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError("the 'blazeface' detector needs the ai-edge-litert package (pip install "
                             f"'ai-edge-litert>=1.2,<3'), which could not be imported ({exc}); or choose "
                             "--detector yunet") from exc
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=self.num_threads)
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"LiteRT cannot load the BlazeFace model {path} ({exc}); delete the file so it is "
                             "downloaded again, or choose --detector mtcnn") from exc
        self._input_index, self._boxes_index, self._scores_index = self._tensor_indices()

    def _tensor_indices(self) -> tuple[int, int, int]:
        """Find the input and the two outputs by shape: regressors (1, 896, 16), logits (1, 896, 1)."""
        (inp,) = self._interpreter.get_input_details()
        expected = (1, self._INPUT_SIDE, self._INPUT_SIDE, 3)
        outputs = {tuple(out["shape"][-1:]): out["index"] for out in self._interpreter.get_output_details()}
        if tuple(inp["shape"]) != expected or set(outputs) != {(16,), (1,)}:
            raise ModelError(f"the BlazeFace model has input {tuple(inp['shape'])} and outputs {sorted(outputs)}; "
                             f"expected input {expected} and outputs of width 16 and 1 (the short-range model)")
        return inp["index"], outputs[(16,)], outputs[(1,)]

    def _detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        tensor, scale, pad = _letterbox(rgb, self._INPUT_SIDE)
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._boxes_index)[0]
        logits = self._interpreter.get_tensor(self._scores_index)[0, :, 0]
        # float64 so that exp(100) does not overflow.
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -self._LOGIT_CLIP, self._LOGIT_CLIP)))
        keep = np.flatnonzero(scores >= self.score_threshold)
        if keep.size == 0:
            return []
        boxes, points = _decode_blazeface(raw[keep], _blazeface_anchors()[keep], self._REGRESSION_SCALE)
        # From fractions of the 128x128 letterbox to input-image pixels.
        boxes = (boxes * self._INPUT_SIDE - np.concatenate([pad, [0, 0]])) / np.tile(scale, 2)
        points = (points * self._INPUT_SIDE - pad) / scale
        kept_scores = scores[keep]
        chosen = _nms(boxes, kept_scores, self.score_threshold, self.nms_threshold)
        return [_blazeface_face(self._calibrated(boxes[i]), kept_scores[i], points[i]) for i in chosen]

    def _calibrated(self, box: np.ndarray) -> np.ndarray:
        """A raw BlazeFace box ``(x, y, w, h)`` rescaled and shifted to frame the face like mtcnn/YuNet."""
        x, y, w, h = box
        cx, cy = x + w / 2, y + h / 2 - self._BOX_SHIFT_UP * h
        w, h = w * self._BOX_SCALE, h * self._BOX_SCALE
        return np.array([cx - w / 2, cy - h / 2, w, h])


@functools.cache
def _blazeface_anchors() -> np.ndarray:
    """Anchor centres ``(896, 2)`` of the short-range model, as fractions of the input side.

    The model predicts on a 16x16 grid with 2 anchors per cell (stride 8) and an 8x8 grid with 6 anchors
    per cell (its three stride-16 layers share one grid, 2 anchors each). Cells are visited row by row,
    and the anchors of one cell are consecutive. All anchors have unit width and height, so the box
    size is regressed directly.
    """
    centres = []
    for grid, per_cell in ((16, 2), (8, 6)):
        ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        cells = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) / grid
        centres.append(np.repeat(cells, per_cell, axis=0))
    anchors = np.concatenate(centres).astype(np.float32)
    anchors.setflags(write=False)
    return anchors


def _decode_blazeface(raw: np.ndarray, anchors: np.ndarray, regression_scale: float):
    """Turn regressors ``(N, 16)`` into boxes ``(N, 4)`` (x, y, w, h) and keypoints ``(N, 6, 2)``.

    Layout of a regressor row: centre offset (dx, dy), size (w, h), then six (x, y) keypoint offsets,
    all in input pixels and relative to the anchor centre. Outputs are fractions of the input side.
    """
    values = raw / regression_scale
    centre = values[:, 0:2] + anchors
    size = values[:, 2:4]
    boxes = np.concatenate([centre - size / 2, size], axis=1)
    keypoints = values[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
    return boxes, keypoints


def _blazeface_face(box: np.ndarray, score: float, keypoints: np.ndarray) -> DetectedFace:
    """Map BlazeFace's six keypoints (right eye, left eye, nose tip, mouth centre, right ear, left ear;
    subject-side names, so the right eye is on the image's left) to the 5-point layout, using the mouth
    centre for both mouth corners."""
    right_eye, left_eye, nose, mouth = keypoints[:4]
    landmarks = np.stack([right_eye, left_eye, nose, mouth, mouth])
    return DetectedFace(tuple(box), score, landmarks)


def _letterbox(rgb: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit ``rgb`` into a ``side`` x ``side`` square (aspect kept, black bars centred) as the model's input.

    Returns the float32 ``(1, side, side, 3)`` tensor in ``[-1, 1]`` (what the model was trained on), and
    per-axis ``scale`` and ``pad`` such that ``letterbox_xy = image_xy * scale + pad``.
    """
    height, width = rgb.shape[:2]
    fit = side / max(height, width)
    new_w, new_h = max(1, round(width * fit)), max(1, round(height * fit))
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA if fit < 1 else cv2.INTER_LINEAR)
    pad_x, pad_y = (side - new_w) // 2, (side - new_h) // 2
    canvas = np.zeros((side, side, 3), np.uint8)
    canvas[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized
    tensor = canvas.astype(np.float32)[None] / 127.5 - 1.0
    scale = np.array([new_w / width, new_h / height], np.float32)  # exact after rounding
    return tensor, scale, np.array([pad_x, pad_y], np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, score_threshold: float, nms_threshold: float) -> list[int]:
    """Indices of the boxes that survive non-maximum suppression, best first."""
    kept = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), score_threshold, nms_threshold)
    return [int(i) for i in np.asarray(kept).reshape(-1)]


def _check_frame(rgb) -> np.ndarray:
    """Return ``rgb`` as a C-contiguous uint8 (H, W, 3) array, or raise MediaError saying what was passed."""
    if not isinstance(rgb, np.ndarray):
        raise MediaError(f"detect() takes an RGB uint8 numpy array of shape (H, W, 3), got {type(rgb).__name__}; "
                         "convert images and paths with emodet.imageio.as_rgb_array")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise MediaError(f"detect() takes an RGB uint8 array of shape (H, W, 3), got dtype {rgb.dtype} shape "
                         f"{rgb.shape}; convert with emodet.imageio.as_rgb_array (it handles grayscale, RGBA "
                         "and paths)")
    return np.ascontiguousarray(rgb)


def _clip_face(face: DetectedFace, width: int, height: int) -> DetectedFace | None:
    """``face`` with its box clipped to the image, or None when less than a pixel of it is inside."""
    x, y, w, h = face.box
    x0, y0 = min(max(x, 0.0), width), min(max(y, 0.0), height)
    x1, y1 = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
    if x1 - x0 < 1 or y1 - y0 < 1 or not math.isfinite(x0 + y0 + x1 + y1):
        return None
    return DetectedFace((x0, y0, x1 - x0, y1 - y0), min(max(face.score, 0.0), 1.0), face.landmarks)


def _fit_scale(width: int, height: int, max_side: int | None) -> float:
    """The factor (<= 1) that brings the longer side down to ``max_side``; 1 when it already fits."""
    if max_side is None:
        return 1.0
    return min(1.0, max_side / max(width, height))


def _resize(rgb: np.ndarray, scale: float) -> np.ndarray:
    """``rgb`` shrunk by ``scale`` (area interpolation), or unchanged when ``scale`` is 1."""
    if scale >= 1.0:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


@contextlib.contextmanager
def _opencv_quiet():
    """OpenCV's native log limited to errors for the duration, then set back as it was."""
    before = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(before)


def _check_probability(option: str, value, detector: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{detector} detector: {option} must be a number from 0 to 1, got {value!r}")
    return float(value)


def _check_int(option: str, value, detector: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{detector} detector: {option} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_max_side(value, detector: str) -> int | None:
    return None if value is None else _check_int("max_side", value, detector, minimum=32)


_DETECTORS: dict[str, type[FaceDetector]] = {cls.name: cls for cls in (MTCNNDetector, YuNetDetector, BlazeFaceDetector)}


def list_detectors() -> list[str]:
    """The registered detector names, default first."""
    return [DEFAULT_DETECTOR] + sorted(name for name in _DETECTORS if name != DEFAULT_DETECTOR)


def detector_accepts(name: str, option: str) -> bool:
    """Whether the detector registered as ``name`` takes ``option`` (False for an unknown name)."""
    cls = _DETECTORS.get(str(name).strip().lower())
    return cls is not None and option in inspect.signature(cls.__init__).parameters


def create_detector(name: str = DEFAULT_DETECTOR, **options) -> FaceDetector:
    """Build the detector registered as ``name`` with the given options (see each class for them).

    Raises :class:`ConfigError` for an unknown name or option (with the closest valid spelling) and
    :class:`~emodet.errors.ModelError` when the detector's model cannot be loaded or downloaded.
    """
    key = str(name).strip().lower()
    if key not in _DETECTORS:
        raise ConfigError(f"unknown face detector {name!r}; choose one of {', '.join(list_detectors())}"
                          f"{_did_you_mean(key, _DETECTORS)}")
    cls = _DETECTORS[key]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for option in options:
        if option not in accepted:
            raise ConfigError(f"the {key} detector has no option {option!r}; its options are "
                              f"{', '.join(accepted)}{_did_you_mean(option, accepted)}")
    return cls(**options)


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f". Did you mean {close[0]!r}?" if close else ""
