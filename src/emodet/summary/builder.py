"""Summarising detection records: who was on screen when, feeling what, and how photos distribute.

:class:`SummaryBuilder` takes records one at a time (a frame's, an image's, a failure's), keeps per
video one :class:`~emodet.summary.series.Series` per track and one for the whole frame, and per
photo collection counts and small bounded selections (the most confident faces of each emotion,
the least confident faces), so memory grows with the number of analysed faces in videos (32 bytes
each), never with what the records spell out. :meth:`SummaryBuilder.finish` turns that into a
:class:`~emodet.summary.model.DetectionSummary`.

Given the image a record came from (during ``emodet detect --report``), the builder cuts the
thumbnails it will show at once: the clearest face of each track, the faces of the gallery.
Without images (``emodet summarize``), :mod:`emodet.summary.thumbnails` cuts them afterwards
from the sources that are still there.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from emodet.inference.tracking import iou_matrix
from emodet.summary.model import DetectionSummary, FaceRef, PhotoSummary, Track, VideoSummary, crop_thumbnail
from emodet.summary.series import Series

#: Tracks on screen for less than this many seconds are folded into "others" (detector flicker,
#: passers-by), so that they do not flood the report with timelines.
MIN_TRACK_SECONDS = 1.0
#: Faces shown per emotion in a photo collection's gallery (the most confident ones).
GALLERY_PER_CLASS = 12
#: The least confident faces shown, where a person should look twice.
LEAST_CONFIDENT = 12
#: Photos without a face, and failed inputs, listed by name (all are counted).
LISTED = 200
#: Tracks of consecutive ranges of a Ray run are linked when their boxes overlap this much.
LINK_IOU = 0.3


@dataclass
class _TrackState:
    track_id: object  # as the records give it
    series: Series
    first: tuple = (float("inf"), ())  # (frame, box) of the earliest and latest face
    last: tuple = (-1, ())
    best: FaceRef | None = None
    best_clarity: float = -1.0

    def add(self, time: float, frame: int, probs, box) -> None:
        if frame < self.first[0]:
            self.first = (frame, box)
        if frame >= self.last[0]:
            self.last = (frame, box)
        self.series.add(time, frame, probs)


@dataclass
class _VideoState:
    width: int = 0
    height: int = 0
    completed: int | None = None
    frames: Series = field(default_factory=lambda: Series(1))  # per analysed frame: its number of faces
    tracks: dict = field(default_factory=dict)  # (segment, track id) -> _TrackState


class SummaryBuilder:
    """Accumulates records (dicts as written to ``--jsonl``) into a summary; see the module's docstring."""

    def __init__(self, class_names: tuple[str, ...] | None = None):
        self.class_names = tuple(class_names) if class_names else None
        self.videos: dict[str, _VideoState] = {}
        self.photo_rows: list[tuple[str, int, str]] = []
        self.faces_per_class: Counter = Counter()
        self.photos_per_class: Counter = Counter()
        self.gallery: dict[str, list] = {}
        self.least: list = []
        self.no_face: list[str] = []
        self.no_face_count = 0
        self.failures: list[tuple[str, str]] = []
        self.failure_count = 0
        self.skipped_faces = 0
        self.skipped_records = 0
        self._order = itertools.count()

    def add(self, record: dict, image: np.ndarray | None = None) -> None:
        """Count one record; ``image``, the RGB image or frame it describes, lets thumbnails be cut now."""
        if "error" in record:
            self.failure_count += 1
            if len(self.failures) < LISTED:
                self.failures.append((str(record["source"]), str(record["error"])))
        elif record.get("completed"):
            self.videos.setdefault(record["source"], _VideoState()).completed = int(record.get("frames", 0))
        elif "frame" in record:
            self._add_frame(record, image)
        elif isinstance(record.get("faces"), list):
            self._add_photo(record, image)

    def _probs(self, face: dict) -> list[float] | None:
        """The face's probabilities in class order (a list: cheaper than an array per face, a million times)."""
        probs = face.get("probs") if isinstance(face, dict) else None
        if not isinstance(probs, dict):
            self.skipped_faces += 1
            return None
        if self.class_names is None:
            self.class_names = tuple(probs)
        try:
            return [probs[name] for name in self.class_names]
        except KeyError:  # records of a model with other classes, mixed into the same summary
            self.skipped_faces += 1
            return None

    def _add_frame(self, record: dict, image) -> None:
        video = self.videos.setdefault(record["source"], _VideoState())
        video.width, video.height = record.get("width", video.width), record.get("height", video.height)
        try:
            frame = int(record["frame"])
            time = float(record.get("timestamp") if record.get("timestamp") is not None else frame)
            segment = int(record.get("segment", 0))
        except (TypeError, ValueError):  # not a frame record emodet wrote
            self.skipped_records += 1
            return
        listed = record.get("faces") if isinstance(record.get("faces"), list) else []
        faces = [(face, p) for face in listed if (p := self._probs(face)) is not None]
        video.frames.add(time, frame, len(faces))
        for face, probs in faces:
            key = (segment, face.get("track_id"))
            track = video.tracks.get(key)
            if track is None:
                track = video.tracks[key] = _TrackState(face.get("track_id"), Series(len(self.class_names), 16))
            box = _box(face)
            track.add(time, frame, probs, box)
            clarity = _clarity(face, box)
            if clarity > track.best_clarity:
                track.best_clarity = clarity
                track.best = self._face_ref(record["source"], frame, face, probs, image)

    def _add_photo(self, record: dict, image) -> None:
        source = str(record["source"])
        faces = [(face, p) for face in record["faces"] if (p := self._probs(face)) is not None]
        if not faces:
            self.no_face_count += 1
            if len(self.no_face) < LISTED:
                self.no_face.append(source)
            self.photo_rows.append((source, 0, ""))
            return
        faces = [(face, np.array(p, np.float32)) for face, p in faces]
        labels = [self.class_names[int(np.argmax(p))] for _, p in faces]
        self.faces_per_class.update(labels)
        self.photos_per_class.update(set(labels))
        self.photo_rows.append((source, len(faces), self.class_names[int(np.argmax(np.mean([p for _, p in faces],
                                                                                            axis=0)))]))
        for (face, probs), label in zip(faces, labels):
            score = float(np.max(probs))
            self._keep(self.gallery.setdefault(label, []), GALLERY_PER_CLASS, score,
                       lambda: self._face_ref(source, None, face, probs, image))
            self._keep(self.least, LEAST_CONFIDENT, -score, lambda: self._face_ref(source, None, face, probs, image))

    def _keep(self, heap: list, size: int, priority: float, make) -> None:
        """Keep the ``size`` items of highest ``priority`` in ``heap``, making an item only when it is kept."""
        if len(heap) < size:
            heapq.heappush(heap, (priority, next(self._order), make()))
        elif priority > heap[0][0]:
            heapq.heapreplace(heap, (priority, next(self._order), make()))

    def _face_ref(self, source: str, frame: int | None, face: dict, probs: np.ndarray, image) -> FaceRef:
        box = _box(face)
        return FaceRef(source, frame, box, self.class_names, np.asarray(probs, np.float32),
                       None if image is None else crop_thumbnail(image, box))

    def finish(self, headers: list[dict] | None = None, problems: list[str] | None = None) -> DetectionSummary:
        """The summary of every record added so far."""
        problems = list(problems or [])
        if self.skipped_records:
            problems.append(f"{self.skipped_records} record(s) had a frame number or time that is not a number "
                            "and were left out")
        if self.skipped_faces:
            problems.append(f"{self.skipped_faces} face(s) had no probabilities over the classes "
                            f"{', '.join(self.class_names or ())} and were left out")
        class_names = self.class_names or _classes_from(headers)
        videos = [self._video(source, state, class_names) for source, state in self.videos.items()]
        self.videos = {}  # their buffers are the videos' arrays now: a builder is finished once
        photos = PhotoSummary(
            photos=len(self.photo_rows), faces=sum(self.faces_per_class.values()),
            faces_per_class={c: self.faces_per_class[c] for c in class_names},
            photos_per_class={c: self.photos_per_class[c] for c in class_names}, rows=self.photo_rows,
            gallery={c: [ref for _, _, ref in sorted(self.gallery.get(c, []), reverse=True)] for c in class_names},
            least_confident=[ref for _, _, ref in sorted(self.least, reverse=True)],
            no_face=self.no_face, no_face_count=self.no_face_count)
        return DetectionSummary(class_names=class_names, headers=list(headers or []), problems=problems,
                                videos=videos, photos=photos, failures=self.failures,
                                failure_count=self.failure_count)

    def _video(self, source: str, state: _VideoState, class_names) -> VideoSummary:
        times, frames, faces = state.frames.sorted()
        state.frames = None
        step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
        states = _linked(state.tracks)
        tracks = _numbered(states, class_names, step, source, renumber=len(states) < len(state.tracks))
        long = [t for t in tracks if t.duration >= MIN_TRACK_SECONDS]
        short = [t for t in tracks if t.duration < MIN_TRACK_SECONDS]
        duration = float(times[-1] - times[0] + step) if len(times) else 0.0
        return VideoSummary(source, state.width, state.height, state.completed, step, duration, times,
                            _frame_means(frames, tracks, len(class_names)), faces[:, 0], long, short)


def _box(face: dict) -> tuple[float, float, float, float]:
    """The face's box (x, y, w, h), or an empty one where the record's is not four numbers."""
    box = face.get("box")
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
        return (0.0, 0.0, 0.0, 0.0)
    return (x, y, w, h)


def _clarity(face: dict, box: tuple[float, float, float, float]) -> float:
    """How good a face is as a track's picture: the detector's confidence, favouring faces up to 112 px."""
    _, _, w, h = box
    score = face.get("detection_score")
    return (float(score) if isinstance(score, (int, float)) else 0.0) * min(1.0, math.sqrt(max(w * h, 0)) / 112)


def _frame_means(frames: np.ndarray, tracks: list[Track], classes: int) -> np.ndarray:
    """The mean probabilities of the faces of each analysed frame (NaN where there was none)."""
    sums, counts = np.zeros((len(frames), classes)), np.zeros(len(frames))
    for track in tracks:
        rows = np.searchsorted(frames, track.frames)
        np.add.at(sums, rows, track.probs)
        np.add.at(counts, rows, 1)
    with np.errstate(invalid="ignore"):
        return (sums / counts[:, None]).astype(np.float32)


def _linked(tracks: dict) -> list[_TrackState]:
    """The tracks of one video with those cut at the ranges of a Ray run joined: a track that starts
    on a range's first frame continues the previous range's track whose last box it overlaps."""
    segments = sorted({segment for segment, _ in tracks})
    if len(segments) < 2:
        return list(tracks.values())
    by_segment = {s: [t for (seg, _), t in tracks.items() if seg == s] for s in segments}
    for previous, segment in zip(segments, segments[1:]):
        starting = [t for t in by_segment[segment] if t.first[0] == segment]
        ending = [t for t in by_segment[previous] if t.last[0] < segment]
        if not starting or not ending:
            continue
        overlap = iou_matrix(np.array([t.first[1] for t in starting], float).reshape(-1, 4),
                             np.array([t.last[1] for t in ending], float).reshape(-1, 4))
        rows, cols = set(), set()
        for row, col in zip(*np.unravel_index(np.argsort(-overlap, axis=None), overlap.shape)):
            if overlap[row, col] < LINK_IOU or row in rows or col in cols:
                continue
            rows.add(row)
            cols.add(col)
            head, tail = ending[col], starting[row]
            head.series.extend(tail.series)
            head.last = tail.last
            if tail.best_clarity > head.best_clarity:
                head.best, head.best_clarity = tail.best, tail.best_clarity
            by_segment[segment][by_segment[segment].index(tail)] = head
    unique = {id(t): t for ts in by_segment.values() for t in ts}
    return list(unique.values())


def _numbered(states: list[_TrackState], class_names, step: float, source: str, renumber: bool) -> list[Track]:
    """The tracks in the order they first appear, with the records' track ids, or, where ranges of a
    Ray run were linked (their ids start anew in every range), numbered 1, 2, ... in that order."""
    series = []
    for state in states:
        series.append((state.series.sorted(), state))
        state.series = None  # its buffers go as soon as the track has its own arrays
    series.sort(key=lambda item: item[0][0][0])
    return [Track(source, number if renumber else state.track_id, times, frames, probs, tuple(class_names), step,
                  state.best)
            for number, ((times, frames, probs), state) in enumerate(series, 1)]


def _classes_from(headers) -> tuple[str, ...]:
    for header in headers or ():
        if header.get("classes"):
            return tuple(header["classes"])
    from emodet.labels import FER7

    return FER7
