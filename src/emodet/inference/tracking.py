"""Following faces across video frames and smoothing their emotions over time.

Tracking is by box overlap (IoU) with an optimal one-to-one assignment per frame: cheap and
enough for faces, which move little between frames. Each track keeps an exponential moving
average of its probabilities, so a label does not flicker on single noisy frames.
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


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    probs: np.ndarray
    missed: int = 0


@dataclass
class FaceTracker:
    """Assigns stable ids to face boxes and smooths each track's probabilities.

    ``smoothing`` is the weight of the past in the moving average: 0 turns smoothing off,
    0.6 means a new frame contributes 40%. A track survives ``max_missed`` frames without a
    matching face (a blink of the detector) before its id is retired.
    """

    smoothing: float = 0.6
    min_iou: float = 0.3
    max_missed: int = 5
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 1

    def __post_init__(self):
        if not 0.0 <= self.smoothing < 1.0:
            from emodet.errors import ConfigError

            raise ConfigError(f"smoothing must be in [0, 1): 0 is off, 0.6 a typical value; got {self.smoothing}")

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
                track.box = boxes[i]
                track.probs = self.smoothing * track.probs + (1.0 - self.smoothing) * probs[i]
                track.missed = 0
            ids.append(track.track_id)
            smoothed[i] = track.probs
        matched = set(id(t) for t in assigned.values())
        for track in self._tracks:
            if id(track) not in matched and track.track_id not in ids:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        return ids, smoothed

    def _assign(self, boxes: np.ndarray) -> dict[int, _Track]:
        """Each box to the free track it overlaps most, the most overlapping pairs first. Faces seldom
        overlap one another, so this greedy matching pairs as the optimal (Hungarian) one does,
        without SciPy in the lean install."""
        if not self._tracks or not len(boxes):
            return {}
        overlap = iou_matrix(boxes, np.stack([t.box for t in self._tracks]))
        assigned, taken = {}, set()
        for row, col in zip(*np.unravel_index(np.argsort(-overlap, axis=None), overlap.shape)):
            if overlap[row, col] < self.min_iou:
                break
            if row not in assigned and col not in taken:
                assigned[int(row)] = self._tracks[col]
                taken.add(col)
        return assigned
