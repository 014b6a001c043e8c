"""The detection pipeline: image -> faces -> aligned crops -> emotions -> results.

:class:`EmotionDetector` is what most users need: it loads the bundled model and the default
face detector the first time it is used (not when constructed), classifies every face of an
image, or of several images, in one batched call, and on video follows faces across frames
and smooths their emotions.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from emodet.imageio import as_rgb_array
from emodet.inference.results import FaceResult, FrameResult
from emodet.inference.settings import InferenceSettings
from emodet.inference.tta import predict_with_tta


class EmotionDetector:
    """Detect faces and classify their emotions in images, videos and streams.

    ``model``: ``None`` for the bundled model, a path to a ``.keras``/``.onnx``/``.tflite``
    model, a Keras model, a loaded classifier (:mod:`emodet.inference.runtime`), or a registry
    reference such as ``"models:/emodet@champion"`` (found in ``registry``, a folder or MLflow
    tracking URI; default ``$EMODET_REGISTRY``). How faces are found, cut out and classified is
    ``settings`` (:class:`~emodet.inference.settings.InferenceSettings`, its defaults when left out);
    the keywords change one setting each: ``detector`` a face detector name (see
    :func:`emodet.inference.detectors.list_detectors`) or a detector object; ``smoothing`` applies to
    :meth:`stream` only (single images are never smoothed); ``margin`` and ``alignment``
    (``"template"`` or ``"box"``) set how faces are cut out (:mod:`emodet.inference.align`);
    ``tta`` averages each face over views of it (:mod:`emodet.inference.tta`): ``"flip"`` (or
    ``True``) with its mirror image, twice the classification time; ``"crops"`` over ten crops,
    ten times; each a little more accurate (docs/MODEL_CARD.md), meant for batch work rather than
    live video.

    This is the one detect -> align -> classify -> track path: the CLI, the server and the Ray
    actors run it too.
    """

    def __init__(self, model=None, detector: str | object | None = None, *,
                 settings: InferenceSettings | None = None, smoothing: float | None = None,
                 margin: float | None = None, detector_options: dict | None = None, tta: bool | str | None = None,
                 alignment: str | None = None, registry: str | None = None):
        named = detector if isinstance(detector, str) else None
        self.settings = (settings or InferenceSettings()).updated(
            detector=named, smoothing=smoothing, margin=margin, alignment=alignment, tta=tta,
            detector_options=tuple(detector_options.items()) if detector_options else None)
        self.model = model
        self.registry = registry
        self._classifier = None
        self._face_detector = None if detector is None or isinstance(detector, str) else detector

    @property
    def classifier(self):
        if self._classifier is None:
            from emodet.inference.loading import load_classifier

            self._classifier = load_classifier(self.model, registry=self.registry)
        return self._classifier

    @property
    def face_detector(self):
        if self._face_detector is None:
            self._face_detector = self.settings.create_detector()
        return self._face_detector

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classifier.class_names

    def describe(self) -> dict:
        """What produces this detector's results, as JSON values: emodet's version, the model (its
        reference and, for an exported file, its model version), the classes and the settings.
        Written at the head of a batch run's records, so that a report of them can say so."""
        from emodet import __version__

        model = self.model
        name = "bundled" if model is None else str(model) if isinstance(model, (str, Path)) else type(model).__name__
        return {"emodet_version": __version__, "model": name,
                "model_version": self.classifier.metadata.get("model_version"),
                "classes": list(self.class_names), "settings": self.settings.to_dict()}

    def __call__(self, image) -> FrameResult:
        """Faces and emotions in one image: a path, a PIL image or an RGB uint8 array."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Iterable, names: list[str] | None = None) -> list[FrameResult]:
        """Like calling the detector on each image, with all their faces classified in one batch.

        ``names`` label the results' ``source`` (default: the path, or the input's type).
        """
        images = list(images)
        names = names or [_source_name(image) for image in images]
        prepared = [(name, as_rgb_array(image)) for name, image in zip(names, images)]
        found = [self.face_detector.detect(rgb) for _, rgb in prepared]
        probs = self._classify([rgb for _, rgb in prepared], found)
        results, start = [], 0
        for (source, rgb), faces in zip(prepared, found):
            face_probs = probs[start:start + len(faces)]
            start += len(faces)
            results.append(self._result(rgb, faces, face_probs, source))
        return results

    def stream(self, source, stride: int = 1, start: int = 0, stop: int | None = None) -> FrameStream:
        """Results frame by frame for a video file, a webcam index or a stream URL; ``start`` and
        ``stop`` read one range of a file's frames (tracks then start anew at ``start``)."""
        from emodet.inference.video import FrameReader

        reader = FrameReader(source, stride=stride, start=start, stop=stop)
        return FrameStream(self, reader, self.new_tracker())

    def new_tracker(self):
        """A tracker that follows faces across the frames of one video or stream, smoothing as set."""
        return self.settings.new_tracker()

    def analyse(self, rgb: np.ndarray, *, tracker=None, min_score: float = 0.0, source: str = "",
                frame=None, timings: dict | None = None) -> FrameResult:
        """Faces and emotions in one RGB image, the step every video frame and served request takes:
        faces the detector scored under ``min_score`` are dropped; with ``tracker`` (:meth:`new_tracker`)
        faces are followed across calls and smoothed; ``frame`` gives the result its index and time;
        ``timings``, when given, receives ``detect_ms`` and ``classify_ms``."""
        started = time.perf_counter()
        faces = [face for face in self._search(rgb, tracker) if face.score >= min_score]
        detected = time.perf_counter()
        probs = self._classify([rgb], [faces])
        ids = None
        if tracker is not None:
            ids, probs = tracker.update(np.array([face.box for face in faces], dtype=float).reshape(-1, 4), probs)
        if timings is not None:
            timings.update(detect_ms=1000 * (detected - started), classify_ms=1000 * (time.perf_counter() - detected))
        return self._result(rgb, faces, probs, source, ids, frame)

    def _search(self, rgb: np.ndarray, tracker) -> list:
        """The faces of one frame. On a video whose followed faces are all large, the frame is searched
        at ``settings.tracked_side`` (a quarter of the pixels at the defaults), unless the smaller
        search finds fewer faces than were followed, or a full-size search is due
        (:meth:`FaceTracker.may_search_smaller`; the tracker notes the side searched at)."""
        detector = self.face_detector
        full = max(rgb.shape[:2]) if getattr(detector, "max_side", None) is None else \
            min(max(rgb.shape[:2]), detector.max_side)
        side = self.settings.tracked_side
        tried = False
        if tracker is not None and side and side < full and hasattr(detector, "max_side") \
                and tracker.may_search_smaller(side / full):
            faces, tried = _searched_at(detector, side, rgb), True
            if len(faces) >= tracker.visible:
                tracker.searched(side, full=False)
                return faces
        if tracker is not None:
            tracker.searched(full, full=True, missed_faces=tried)
        return detector.detect(rgb)

    def _classify(self, images: list[np.ndarray], found: list[list]) -> np.ndarray:
        from emodet.inference.align import align_faces

        crops = [align_faces(rgb, faces, self.classifier.image_size, margin=self.settings.margin,
                             alignment=self.settings.alignment) for rgb, faces in zip(images, found) if faces]
        if not crops:
            return np.zeros((0, len(self.class_names)), np.float32)
        return predict_with_tta(self.classifier.predict, np.concatenate(crops), self.settings.tta)

    def _result(self, rgb, faces, probs, source, track_ids=None, frame=None) -> FrameResult:
        ids = track_ids or [None] * len(faces)
        results = [FaceResult(face.box, face.score, self.class_names, p, face.landmarks, track_id)
                   for face, p, track_id in zip(faces, probs, ids)]
        height, width = rgb.shape[:2]
        return FrameResult(results, (width, height), source,
                           None if frame is None else frame.index, None if frame is None else frame.timestamp)


class FrameStream:
    """Iterator of per-frame results; after it ends, ``ended`` says why (``"end"`` or a message)."""

    def __init__(self, detector: EmotionDetector, reader, tracker):
        self.detector = detector
        self.reader = reader
        self.tracker = tracker

    @property
    def ended(self) -> str | None:
        return self.reader.ended

    @property
    def frames_read(self) -> int:
        return self.reader.frames_read

    @property
    def fps(self) -> float:
        """The source's frame rate (0 when it does not say), known once iteration started."""
        return self.reader.fps

    def __iter__(self) -> Iterator[FrameResult]:
        for result, _ in self.with_images():
            yield result

    def with_images(self) -> Iterator[tuple[FrameResult, np.ndarray]]:
        """Like iterating, with each frame's RGB image alongside its result (for annotating)."""
        source = str(self.reader.source)
        for frame in self.reader:
            yield self.detector.analyse(frame.rgb, tracker=self.tracker, source=source, frame=frame), frame.rgb


def _searched_at(detector, side: int, rgb: np.ndarray) -> list:
    """``detector``'s faces in ``rgb`` shrunk to ``side`` pixels on its longer side (boxes in ``rgb``'s pixels)."""
    full = detector.max_side
    detector.max_side = side  # the pipeline's own detector, used by one thread (the server keeps one per thread)
    try:
        return detector.detect(rgb)
    finally:
        detector.max_side = full


def _source_name(image) -> str:
    return str(image) if isinstance(image, (str, Path)) else f"<{type(image).__name__}>"
