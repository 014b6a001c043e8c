"""Running the detector over many inputs without ever stopping at a bad one.

:func:`process` yields one :class:`Record` per image or video frame, or one error record per
input that failed (unreadable file, video that cannot be opened, stream that dropped), and goes
on with the next input. Images are decoded one by one and classified in small batches, bounded
both in images and in decoded pixels (:data:`MAX_PIXELS_IN_FLIGHT`), so a folder of huge photos
holds at most a few of them in memory at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np

from emodet.errors import EmodetError
from emodet.imageio import animation_note, read_image
from emodet.inference.remote import is_remote, local_copy, read_remote_image, temporary_folder
from emodet.inference.sinks import AnnotatedSaver, Record
from emodet.inference.sources import Input

#: Decoded pixels a batch may hold before it is classified (about 480 MB of RGB): eight 80-megapixel
#: images would otherwise be in memory together.
MAX_PIXELS_IN_FLIGHT = 160_000_000


def run_header(description: dict, *, stride: int, engine: str = "local") -> dict:
    """The header a batch run writes before its records: what produced them (``description``, as
    :meth:`EmotionDetector.describe` gives it), the stride, the engine and when the run started."""
    return {**description, "stride": stride, "engine": engine,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def read_input_image(name: str) -> np.ndarray:
    """The image an input names (a local path or a URI) as RGB uint8; :class:`EmodetError` if it cannot be."""
    return read_remote_image(name) if is_remote(name) else read_image(name)


def process(detector, inputs: list[Input], *, stride: int = 1, saver: AnnotatedSaver | None = None,
            batch_size: int = 8, on_frame: Callable[[], None] | None = None,
            read: Callable[[str], np.ndarray] = read_input_image,
            observe: Callable[[Record, np.ndarray], None] | None = None) -> Iterator[Record]:
    """Records for every input in order; ``on_frame`` is called once per video frame (for progress).
    ``read`` gives an image input's pixels (the Ray engine hands over images decoded elsewhere).
    ``observe`` sees each result's record with the image or frame it came from, before it is
    yielded (the detection report cuts its thumbnails there)."""
    pending: list[tuple[str, object]] = []
    for item in inputs:
        if item.error:
            yield from _flush(detector, pending, saver, observe)
            yield Record(item.name, error=item.error)
        elif item.kind == "image":
            try:
                image = read(item.name)
            except EmodetError as exc:
                yield from _flush(detector, pending, saver, observe)
                yield Record(item.name, error=str(exc))
                continue
            if pending and _pixels(pending) + image.shape[0] * image.shape[1] > MAX_PIXELS_IN_FLIGHT:
                yield from _flush(detector, pending, saver, observe)
            pending.append((item.name, image))
            if len(pending) >= batch_size:
                yield from _flush(detector, pending, saver, observe)
        else:
            yield from _flush(detector, pending, saver, observe)
            yield from _video(detector, item, stride, saver, on_frame, observe)
    yield from _flush(detector, pending, saver, observe)


def _flush(detector, pending: list, saver, observe) -> Iterator[Record]:
    if not pending:
        return
    batch = list(pending)
    pending.clear()
    try:
        results = detector.detect_batch([image for _, image in batch], names=[name for name, _ in batch])
    except EmodetError as exc:
        for name, _ in batch:
            yield Record(name, error=str(exc))
        return
    for (name, image), result in zip(batch, results):
        if saver is not None:
            saver.save_image(name, image, result)
        record = Record(name, result, note=animation_note(name))
        if observe is not None:
            observe(record, image)
        yield record


def _pixels(pending: list) -> int:
    return sum(image.shape[0] * image.shape[1] for _, image in pending)


def _video(detector, item: Input, stride: int, saver, on_frame, observe) -> Iterator[Record]:
    if is_remote(item.name):
        with temporary_folder() as folder:
            try:
                path = local_copy(item.name, folder)
            except EmodetError as exc:
                yield Record(item.name, error=str(exc))
                return
            yield from _frames(detector, item, str(path), stride, saver, on_frame, observe)
    else:
        yield from _frames(detector, item, item.name, stride, saver, on_frame, observe)


def _frames(detector, item: Input, path: str, stride: int, saver, on_frame, observe) -> Iterator[Record]:
    """Records for the frames of ``item`` read from ``path`` (the file, or a local copy of it)."""
    source = item.name
    try:
        frames = detector.stream(path, stride=stride, start=item.start, stop=item.stop)
        fps = None
        for result, image in frames.with_images():
            if saver is not None:
                fps = fps or frames.fps / stride
                saver.add_frame(source, image, result, fps)
            if on_frame is not None:
                on_frame()
            record = Record(source, result)
            if observe is not None:
                observe(record, image)
            yield record
    except EmodetError as exc:
        yield Record(source, error=str(exc))
        return
    finally:
        if saver is not None:
            saver.close_video(source)
    if frames.ended != "end":
        yield Record(source, error=frames.ended or "the stream ended without a reason")
    elif frames.frames_read == 0 and item.start == 0:  # a later range may lie past an estimated end
        yield Record(source, error=f"video {source} opened but holds no frames that can be decoded")
    else:
        yield Record(source, completed=frames.frames_read)
