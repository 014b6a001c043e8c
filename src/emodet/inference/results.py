"""Typed detection results: one :class:`FaceResult` per face, one :class:`FrameResult` per image/frame.

Probabilities are kept at full precision; rounding is left to whoever displays them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class ClassProbabilities:
    """``label``, ``score`` and ``top`` of anything holding ``class_names`` and ``probs`` (a face's result,
    a face a detection report shows)."""

    class_names: tuple[str, ...]
    probs: np.ndarray

    @property
    def label(self) -> str:
        """The most probable emotion."""
        return self.class_names[int(np.argmax(self.probs))]

    @property
    def score(self) -> float:
        """The probability of :attr:`label`."""
        return float(np.max(self.probs))

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort(self.probs)[::-1][:k]
        return [(self.class_names[i], float(self.probs[i])) for i in order]


@dataclass(frozen=True)
class FaceResult(ClassProbabilities):
    box: tuple[float, float, float, float]  # x, y, width, height in pixels of the input image
    detection_score: float  # the face detector's confidence
    class_names: tuple[str, ...]
    probs: np.ndarray  # (K,) emotion probabilities (temporally smoothed on video tracks)
    landmarks: np.ndarray | None = None  # (5, 2): eyes, nose, mouth corners, image-left first
    track_id: int | None = None  # stable across frames of a video or stream

    def to_dict(self) -> dict:
        data = {
            "box": [float(v) for v in self.box],
            "detection_score": float(self.detection_score),
            "label": self.label,
            "score": self.score,
            "probs": {name: float(p) for name, p in zip(self.class_names, self.probs)},
        }
        if self.landmarks is not None:
            data["landmarks"] = np.asarray(self.landmarks, dtype=float).tolist()
        if self.track_id is not None:
            data["track_id"] = self.track_id
        return data


@dataclass(frozen=True)
class FrameResult:
    faces: list[FaceResult]
    image_size: tuple[int, int]  # width, height
    source: str = ""
    frame_index: int | None = None  # position in a video or stream
    timestamp: float | None = None  # seconds since the start of the video or stream
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.faces)

    def to_dict(self) -> dict:
        data = {"source": self.source, "width": self.image_size[0], "height": self.image_size[1],
                "faces": [face.to_dict() for face in self.faces]}
        if self.frame_index is not None:
            data["frame"] = self.frame_index
        if self.timestamp is not None:
            data["timestamp"] = self.timestamp
        return data

    def draw(self, image: np.ndarray) -> np.ndarray:
        """A copy of the RGB ``image`` with each face's box and top emotion drawn on it."""
        from emodet.inference.drawing import draw_faces

        return draw_faces(image, self.faces)
