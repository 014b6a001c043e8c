"""A growable table of time-stamped probability rows, held as numpy arrays (32 bytes a row for seven
classes), so that a million frames of a video summarise in tens of megabytes, not gigabytes of dicts."""

from __future__ import annotations

import numpy as np


class Series:
    """Rows of (time in seconds, frame index, ``width`` values), appended in any order."""

    def __init__(self, width: int, capacity: int = 64):
        self.times = np.empty(capacity, np.float64)
        self.frames = np.empty(capacity, np.int64)
        self.values = np.empty((capacity, width), np.float32)
        self.size = 0

    def add(self, time: float, frame: int, values) -> None:
        if self.size == len(self.times):
            self._grow()
        self.times[self.size] = time
        self.frames[self.size] = frame
        self.values[self.size] = values
        self.size += 1

    def extend(self, other: Series) -> None:
        """Append all of ``other``'s rows (a Ray range's track joined to the previous range's)."""
        while self.size + other.size > len(self.times):
            self._grow()
        rows = slice(self.size, self.size + other.size)
        self.times[rows] = other.times[:other.size]
        self.frames[rows] = other.frames[:other.size]
        self.values[rows] = other.values[:other.size]
        self.size += other.size

    def sorted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times, frames, values) in frame order (a Ray run's ranges arrive in any order), as copies
        trimmed to the rows held (so the buffers, with their spare capacity, can go)."""
        frames = self.frames[:self.size]
        if np.all(frames[1:] >= frames[:-1]):  # a local run's frames come in order: no reordering copy
            return self.times[:self.size].copy(), frames.copy(), self.values[:self.size].copy()
        order = np.argsort(frames, kind="stable")
        return self.times[:self.size][order], frames[order], self.values[:self.size][order]

    def _grow(self) -> None:
        capacity = 2 * len(self.times)
        self.times = np.resize(self.times, capacity)
        self.frames = np.resize(self.frames, capacity)
        self.values = np.resize(self.values, (capacity, self.values.shape[1]))


def resample(times: np.ndarray, values: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``points`` rows: the means of equal time bins (rows kept as they are when fewer),
    so that a figure of a long video draws hundreds of points, not hundreds of thousands."""
    if len(times) <= points:
        return times, values
    edges = np.linspace(times[0], times[-1], points + 1)
    bins = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, points - 1)
    counts = np.bincount(bins, minlength=points)
    kept = counts > 0
    sums = np.zeros((points, values.shape[1]))
    np.add.at(sums, bins, values)
    centres = (edges[:-1] + edges[1:]) / 2
    return centres[kept], (sums[kept] / counts[kept, None]).astype(np.float32)
