"""The service's inference: decode -> detect -> align -> classify, with faces batched across requests.

Requests are handled by a small pool of worker threads, each with a face detector of its own
(detectors are not thread-safe; OpenCV runs at one thread per call, so four workers keep two cores
busy). Their face crops go to one :class:`BatchingClassifier`, which gathers the crops of every
request waiting (up to ``max_batch`` faces, at most ``batch_wait_ms`` after the first) into one
classifier call: one call of 8 faces costs far less than 8 calls of one.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

from emodet.errors import EmodetError
from emodet.inference.runtime import Classifier
from emodet.serving.settings import ServeSettings


class BadImage(EmodetError):
    """An upload or frame that is not a usable image; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """RGB uint8 from encoded bytes, refusing non-images (415), too many pixels (413), damage (400)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from emodet.imageio import to_rgb

    if not data:
        raise BadImage("the request body is empty; send a JPEG, PNG, WebP or BMP image", 400)
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise BadImage(f"the image is {width}x{height} pixels, above this server's limit of "
                               f"{max_pixels:,} pixels; send a smaller image", 413)
            if img.format not in ("JPEG", "PNG", "WEBP", "BMP", "MPO"):
                raise BadImage(f"the image is {img.format}; this service takes JPEG, PNG, WebP or BMP", 415)
            return to_rgb(ImageOps.exif_transpose(img))
    except BadImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            raise BadImage(f"the image declares too many pixels ({exc}); send a smaller image", 413) from None
        raise BadImage("the body is not an image this service can decode (JPEG, PNG, WebP or BMP)", 415) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"the image is damaged or truncated and cannot be decoded ({exc})", 400) from None


class BatchingClassifier(Classifier):
    """A classifier whose thread-safe ``predict`` merges concurrent callers' faces into one call of
    the classifier it wraps (whose contract it carries)."""

    def __init__(self, classifier, max_batch: int = 32, wait_s: float = 0.001, enabled: bool = True):
        self.classifier = classifier
        self.class_names, self.image_size, self.color_mode = (classifier.class_names, classifier.image_size,
                                                              classifier.color_mode)
        self.path, self.metadata = classifier.path, classifier.metadata
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.enabled = enabled
        self.calls = 0
        self.faces = 0
        self._waiting = 0  # callers inside predict(): the batch waits for company only if some are coming
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="emodet-batcher", daemon=True)
        if enabled:
            self._thread.start()

    def predict(self, faces: np.ndarray) -> np.ndarray:
        if not len(faces):
            return np.zeros((0, len(self.classifier.class_names)), np.float32)
        if not self.enabled:
            with self._lock:
                self.calls, self.faces = self.calls + 1, self.faces + len(faces)
                return self.classifier.predict(faces)
        future: Future = Future()
        with self._lock:
            self._waiting += 1
        try:
            self._queue.put((faces, future))
            return future.result()
        finally:
            with self._lock:
                self._waiting -= 1

    def close(self) -> None:
        if self.enabled:
            self._queue.put(None)
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = self._gather([item])
            faces = np.concatenate([f for f, _ in batch])
            try:
                probs = self.classifier.predict(faces)
            except Exception as exc:  # every waiting request gets the failure, none hangs
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self.calls, self.faces = self.calls + 1, self.faces + len(faces)
            start = 0
            for chunk, future in batch:
                future.set_result(probs[start:start + len(chunk)])
                start += len(chunk)

    def _gather(self, batch: list) -> list:
        """Add queued requests to ``batch``; wait up to ``wait_s`` only while other callers are on their
        way (a lone request is classified at once, so batching costs nothing at low load)."""
        count = len(batch[0][0])
        deadline = time.monotonic() + self.wait_s
        while count < self.max_batch and (self._waiting > len(batch) or not self._queue.empty()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # keep the stop signal for the loop
                break
            batch.append(item)
            count += len(item[0])
        return batch


class Engine:
    """The loaded model and, per worker thread, an :class:`~emodet.inference.pipeline.EmotionDetector`
    (detectors are not thread-safe) sharing one :class:`BatchingClassifier`; :meth:`load` runs once,
    in the background, at start-up."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.classifier = None
        self.batcher: BatchingClassifier | None = None
        self.error: str | None = None
        self._ready = threading.Event()
        self._local = threading.local()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def load(self) -> None:
        """Load the classifier and a detector, and warm both up (the first call traces graphs)."""
        from emodet.inference.loading import load_classifier

        try:
            if self.settings.library_threads:
                import cv2

                cv2.setNumThreads(self.settings.library_threads)
            self.classifier = load_classifier(self.settings.model)
            size = self.classifier.image_size
            for batch in (1, 4):
                self.classifier.predict(np.zeros((batch, size, size, 3), np.uint8))
            self.batcher = BatchingClassifier(self.classifier, self.settings.max_batch,
                                              self.settings.batch_wait_ms / 1000.0, self.settings.batching)
            self._detector().face_detector.detect(np.full((240, 320, 3), 127, np.uint8))
            self._ready.set()
        except EmodetError as exc:
            self.error = str(exc)
            raise

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    def analyse(self, data: bytes, *, min_score: float = 0.0, tracker=None) -> tuple[object, np.ndarray, dict]:
        """(FrameResult, RGB image, timings in ms) for one encoded image; raises :class:`BadImage`."""
        started = time.perf_counter()
        rgb = decode_image(data, self.settings.max_pixels)
        timings = {"decode_ms": 1000 * (time.perf_counter() - started)}
        result = self._detector().analyse(rgb, tracker=tracker, min_score=min_score, timings=timings)
        timings["total_ms"] = 1000 * (time.perf_counter() - started)
        return result, rgb, timings

    def new_tracker(self):
        """A face tracker for one live stream (WebSocket connection), smoothing as the settings say
        (made from the settings alone: no detector is built in the event loop's thread for it)."""
        return self.settings.inference.new_tracker()

    def _detector(self):
        """This worker thread's pipeline: its own face detector, the shared batching classifier."""
        detector = getattr(self._local, "detector", None)
        if detector is None:
            from emodet.inference.pipeline import EmotionDetector

            detector = self._local.detector = EmotionDetector(self.batcher, settings=self.settings.inference)
        return detector
