"""Following faces across video frames and smoothing their emotions over time.

Each track predicts where its face will be from its recent motion (a constant velocity, smoothed),
and each frame's boxes are matched to the predicted boxes in two stages: by overlap (IoU), then,
for what is left, by centre distance relative to the face's size, for faces that moved further
than their own width between two analysed frames (fast motion, a stride). A track lives on
through ``max_missed`` analysed frames without its face (a blink of the detector, one face passing
in front of another), its prediction moving on. Each track keeps an exponential moving average of
its probabilities, so a label does not flicker on single noisy frames. benchmarks/tracking.py
measures it against ByteTrack and SORT (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection-over-union of (N, 4) and (M, 4) boxes given as x, y, w, h."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    inter = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None) * \
        np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


#: Weight of the past in each tracked face's moving average of probabilities on video and streams
#: (0 turns it off). Single images are never smoothed.
DEFAULT_SMOOTHING = 0.6


def check_smoothing(value: float, name: str = "smoothing") -> None:
    """Refuse a smoothing weight outside [0, 1) (``name``: how the caller spells the option)."""
    if not 0.0 <= value < 1.0:
        from emodet.errors import ConfigError

        raise ConfigError(f"{name} must be in [0, 1): 0 turns it off, {DEFAULT_SMOOTHING} is the default; got {value}")


#: Analysed frames a track may have missed and still be matched by centre distance (beyond, only by overlap).
RECENT = 2
#: While every followed face is large, a frame may be searched smaller; a full-size search comes at
#: least every this many analysed frames, to find new and small faces.
FULL_SEARCH_EVERY = 10
#: The smallest followed face, in pixels at the smaller search's scale, that allows a smaller search
#: (YuNet finds faces from about 10 px; a margin keeps its landmarks precise enough for alignment).
MIN_SEARCHED_FACE = 48


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    probs: np.ndarray
    missed: int = 0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # centre motion per analysed frame

    def predicted(self) -> np.ndarray:
        """The box moved on by the track's velocity, at its last size (a face half hidden by
        another shrinks its box: that is not motion)."""
        return np.r_[self.box[:2] + self.velocity * (self.missed + 1), self.box[2:]]

    def moved_to(self, box: np.ndarray) -> None:
        step = ((box[:2] + box[2:] / 2) - (self.box[:2] + self.box[2:] / 2)) / (self.missed + 1)
        self.velocity = step if not self.velocity.any() else 0.8 * self.velocity + 0.2 * step
        self.box, self.missed = box, 0


@dataclass
class FaceTracker:
    """Assigns stable ids to face boxes and smooths each track's probabilities.

    ``smoothing`` is the weight of the past in the moving average: 0 turns smoothing off,
    0.6 means a new frame contributes 40%. A face is matched to a track whose predicted box it
    overlaps by ``min_iou``, else whose predicted centre is within ``max_distance`` of its size; a
    track survives ``max_missed`` calls without a matching face before its id is retired.
    """

    smoothing: float = DEFAULT_SMOOTHING
    min_iou: float = 0.3
    max_distance: float = 1.0  # centre distance over the mean of the two boxes' sizes
    max_missed: int = 45  # about 1.5-2 s at 25-30 analysed frames a second
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 1
    _since_full_search: int = 0
    _backoff: int = 0  # frames before the smaller search is tried again after it missed faces
    last_search_side: int | None = None  # the longer side the last frame was searched at

    def __post_init__(self):
        check_smoothing(self.smoothing)

    def update(self, boxes: np.ndarray, probs: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Match this frame's ``boxes`` (N, 4) to tracks; return their ids and smoothed probs (N, K)."""
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        probs = np.asarray(probs, dtype=np.float32)
        assigned = self._assign(boxes)
        ids, smoothed = [], np.empty_like(probs)
        for i in range(len(boxes)):
            track = assigned.get(i)
            if track is None:
                track = _Track(self._next_id, boxes[i], probs[i])
                self._next_id += 1
                self._tracks.append(track)
            else:
                track.moved_to(boxes[i])
                track.probs = self.smoothing * track.probs + (1.0 - self.smoothing) * probs[i]
            ids.append(track.track_id)
            smoothed[i] = track.probs
        matched = set(id(t) for t in assigned.values())
        for track in self._tracks:
            if id(track) not in matched and track.track_id not in ids:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        return ids, smoothed

    @property
    def visible(self) -> int:
        """Faces matched on the last frame."""
        return sum(t.missed == 0 for t in self._tracks)

    def may_search_smaller(self, scale: float) -> bool:
        """Whether the next frame may be searched for faces at ``scale`` (< 1) of the full-size search:
        faces are being followed, each seen on the last frame at MIN_SEARCHED_FACE pixels or more at
        that scale, and the last full-size search is fewer than FULL_SEARCH_EVERY frames back."""
        sizes = [np.sqrt(t.box[2] * t.box[3]) for t in self._tracks if t.missed == 0]
        due = self._since_full_search >= FULL_SEARCH_EVERY - 1
        return bool(sizes) and not due and not self._backoff and min(sizes) * scale >= MIN_SEARCHED_FACE

    def searched(self, side: int, full: bool, missed_faces: bool = False) -> None:
        """Note how this frame was searched: at ``side`` pixels, full size or not (:meth:`may_search_smaller`).
        ``missed_faces``: a smaller search found fewer faces than were followed, so the frame was searched
        again at full size; the smaller search is then not tried for FULL_SEARCH_EVERY frames (a scene
        whose faces it misses would otherwise pay for both searches on most frames)."""
        self._since_full_search = 0 if full else self._since_full_search + 1
        self._backoff = FULL_SEARCH_EVERY if missed_faces else max(self._backoff - 1, 0)
        self.last_search_side = side

    def _assign(self, boxes: np.ndarray) -> dict[int, _Track]:
        """Each box to a free track: by overlap with the predicted boxes, the most overlapping pairs
        first, then the boxes left by distance to the predicted centres, the nearest first. Faces
        seldom overlap one another, so greedy matching pairs as the optimal (Hungarian) one does,
        without SciPy in the lean install."""
        if not self._tracks or not len(boxes):
            return {}
        predicted = np.stack([t.predicted() for t in self._tracks])
        assigned, taken = {}, set()
        _greedy(iou_matrix(boxes, predicted), self.min_iou, assigned, taken, self._tracks)
        near = 1.0 - centre_distance(boxes, predicted)
        near[:, [t.missed > RECENT for t in self._tracks]] = -np.inf  # a face lost for long is found by overlap only
        _greedy(near, 1.0 - self.max_distance, assigned, taken, self._tracks)
        return assigned


def centre_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise distance between box centres over the mean of the two boxes' sizes (sqrt of w*h);
    pairs whose sizes differ by more than half are set infinitely far (not the same face)."""
    size_a, size_b = np.sqrt(a[:, 2] * a[:, 3])[:, None], np.sqrt(b[:, 2] * b[:, 3])[None, :]
    centres_a, centres_b = a[:, :2] + a[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    distance = np.linalg.norm(centres_a[:, None, :] - centres_b[None, :, :], axis=-1) / ((size_a + size_b) / 2)
    ratio = np.maximum(size_a, size_b) / np.maximum(np.minimum(size_a, size_b), 1e-9)
    return np.where(ratio <= 1.5, distance, np.inf)


def _greedy(similarity: np.ndarray, floor: float, assigned: dict, taken: set, tracks: list) -> None:
    """Pair rows (boxes) and columns (tracks) not yet paired, the most similar first, down to ``floor``."""
    for row, col in zip(*np.unravel_index(np.argsort(-similarity, axis=None), similarity.shape)):
        if similarity[row, col] < floor:
            break
        if row not in assigned and col not in taken:
            assigned[int(row)] = tracks[col]
            taken.add(col)
