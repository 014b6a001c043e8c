"""What a summary of detection records holds: per-track timelines, per-video and per-photo tables.

Everything here is plain data (numpy arrays, lists, dicts); :meth:`DetectionSummary.tables` gives the
same as rows, and as pandas DataFrames when pandas is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from emodet.inference.results import ClassProbabilities

#: The longer side, in pixels, of the face thumbnails a report shows.
THUMBNAIL_SIDE = 96


@dataclass
class FaceRef(ClassProbabilities):
    """One face a report shows: where it is (source, frame of a video, box) and what it showed;
    ``thumbnail`` is its RGB crop once cut (during the run, or from the source afterwards)."""

    source: str
    frame: int | None
    box: tuple[float, float, float, float]
    class_names: tuple[str, ...]
    probs: np.ndarray
    thumbnail: np.ndarray | None = None


def crop_thumbnail(image: np.ndarray, box, side: int = THUMBNAIL_SIDE) -> np.ndarray | None:
    """The face in ``box`` (x, y, w, h) with a little context, ``side`` pixels on its longer side."""
    import cv2

    x, y, w, h = box
    pad = 0.15 * max(w, h)
    height, width = image.shape[:2]
    x0, y0 = int(max(0, x - pad)), int(max(0, y - pad))
    x1, y1 = int(min(width, x + w + pad)), int(min(height, y + h + pad))
    if x1 <= x0 or y1 <= y0:
        return None
    crop = image[y0:y1, x0:x1]
    scale = side / max(crop.shape[:2])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


@dataclass
class Track:
    """One person (one face track) in a video: when on screen and what they showed over time."""

    source: str
    track_id: object
    times: np.ndarray  # (N,) seconds since the video's start, one per analysed frame the face was in
    frames: np.ndarray  # (N,) frame indices
    probs: np.ndarray  # (N, K) probabilities (smoothed along the track, as the records hold them)
    class_names: tuple[str, ...]
    step: float  # seconds between analysed frames
    best: FaceRef | None = None  # the clearest face of the track

    @property
    def start(self) -> float:
        return float(self.times[0])

    @property
    def end(self) -> float:
        return float(self.times[-1] + self.step)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @cached_property
    def labels(self) -> np.ndarray:
        """The dominant class index at each step (computed once: the report, tables and CLI all ask)."""
        return np.argmax(self.probs, axis=1)

    @property
    def shares(self) -> dict[str, float]:
        """The share of the track's frames in which each emotion dominated."""
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: float(c) / len(self.times) for name, c in zip(self.class_names, counts)}

    @property
    def label(self) -> str:
        """The emotion that dominated most of the track's time."""
        shares = self.shares
        return max(shares, key=shares.get)


@dataclass
class VideoSummary:
    """One video or stream: its tracks (long enough to follow), the short ones, and the whole frame over time."""

    source: str
    width: int
    height: int
    completed: int | None  # frames read when the run finished the video; None if it did not
    step: float
    duration: float
    times: np.ndarray  # (F,) per analysed frame
    mean_probs: np.ndarray  # (F, K) the mean over the frame's faces (NaN where there was none)
    faces: np.ndarray  # (F,) faces in the frame
    tracks: list[Track]
    others: list[Track]  # tracks shorter than MIN_TRACK_SECONDS, folded together

    @property
    def analysed_frames(self) -> int:
        return len(self.times)


@dataclass
class PhotoSummary:
    """The photos (single images) of the records: how emotions spread over faces and photos."""

    photos: int
    faces: int
    faces_per_class: dict[str, int]
    photos_per_class: dict[str, int]  # photos with at least one face of the class
    rows: list[tuple[str, int, str]]  # (source, faces, the photo's emotion: its faces' mean's top class)
    gallery: dict[str, list[FaceRef]]  # the most confident faces of each class
    least_confident: list[FaceRef]
    no_face: list[str]  # the first ones, by name
    no_face_count: int


@dataclass
class DetectionSummary:
    """What :func:`emodet.summarize` returns and the detection report shows."""

    class_names: tuple[str, ...]
    headers: list[dict]  # the runs' headers: emodet version, model, classes, settings
    problems: list[str]  # what was wrong with the records (cut lines, missing shards, other versions)
    videos: list[VideoSummary]
    photos: PhotoSummary
    failures: list[tuple[str, str]]  # (input, reason), the first ones
    failure_count: int
    notes: list[str] = field(default_factory=list)  # things the report should say (thumbnails not found, ...)

    def faces(self) -> Iterator[FaceRef]:
        """Every face the report shows a thumbnail of."""
        for video in self.videos:
            for track in video.tracks:
                if track.best is not None:
                    yield track.best
        for refs in self.photos.gallery.values():
            yield from refs
        yield from self.photos.least_confident

    def track_rows(self) -> list[dict]:
        """One row per track of every video: when on screen, the dominant emotion, the share of each."""
        return [{"source": t.source, "track_id": t.track_id, "start_s": t.start, "end_s": t.end,
                 "duration_s": t.duration, "frames": len(t.times), "label": t.label, "short": short,
                 **{f"share_{name}": share for name, share in t.shares.items()}}
                for video in self.videos for short, tracks in ((False, video.tracks), (True, video.others))
                for t in tracks]

    def timeline_rows(self) -> Iterator[dict]:
        """One row per track and analysed frame: the time series behind the timelines."""
        for video in self.videos:
            for track in video.tracks + video.others:
                for time, frame, probs, label in zip(track.times, track.frames, track.probs, track.labels):
                    yield {"source": track.source, "track_id": track.track_id, "time_s": float(time),
                           "frame": int(frame), "label": self.class_names[label],
                           **{f"p_{name}": float(p) for name, p in zip(self.class_names, probs)}}

    def image_rows(self) -> list[dict]:
        """One row per photo: its faces and its emotion (empty when it had none)."""
        return [{"source": source, "faces": faces, "label": label} for source, faces, label in self.photos.rows]

    def tables(self) -> dict:
        """``tracks``, ``timeline`` and ``images`` as pandas DataFrames (lists of dicts without pandas)."""
        tables = {"tracks": self.track_rows(), "timeline": list(self.timeline_rows()), "images": self.image_rows()}
        try:
            import pandas as pd
        except ImportError:
            return tables
        return {name: pd.DataFrame(rows) for name, rows in tables.items()}
