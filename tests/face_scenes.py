"""Videos made of real faces whose identities, positions and expressions are known at every frame.

Each actor is a sequence of real face photos (e.g. FER2013 faces of known classes), shown one after
another at frames the caller chooses, moved along a path across a textured background; where an
actor is off screen its path gives ``None``. :func:`write_scene` writes the MP4 and returns the
ground truth (which actor's face is where, frame by frame) for the tests of tracking and timelines
and for ``benchmarks/tracking.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Actor:
    faces: list[tuple[int, np.ndarray]]  # (first frame, face image: grey (H, W) or RGB), in order
    path: Callable[[int], tuple[float, float] | None]  # the face's centre at a frame, None: off screen
    side: int = 150  # pixels of the face's longer side in the frame

    def face_at(self, frame: int) -> np.ndarray:
        shown = [face for start, face in self.faces if start <= frame]
        return shown[-1] if shown else self.faces[0][1]


def linear_path(start: tuple[float, float], end: tuple[float, float], first: int = 0,
                last: int | None = None) -> Callable[[int], tuple[float, float] | None]:
    """From ``start`` at frame ``first`` to ``end`` at frame ``last``; off screen outside those frames."""
    def where(frame: int):
        if frame < first or (last is not None and frame > last):
            return None
        t = 0.0 if last is None or last == first else (frame - first) / (last - first)
        return start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])
    return where


def write_scene(path, actors: list[Actor], frames: int, fps: float = 10.0, size: tuple[int, int] = (640, 480),
                seed: int = 0) -> list[list[tuple[int, tuple[int, int, int, int]]]]:
    """Write the scene as an MP4 at ``path``; return, per frame, (actor index, box x, y, w, h) of each
    face on screen (later actors are drawn over earlier ones where they cross: a face more than half
    hidden is not on screen)."""
    background = _background(size, seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    truth = []
    try:
        for frame in range(frames):
            canvas, owner = background.copy(), np.full(background.shape[:2], -1)
            boxes = []
            for number, actor in enumerate(actors):
                centre = actor.path(frame)
                if centre is None:
                    continue
                box = _paste(canvas, _rgb(actor.face_at(frame)), centre, actor.side)
                if box is not None:
                    x, y, w, h = box
                    owner[y:y + h, x:x + w] = number
                    boxes.append((number, box))
            writer.write(canvas[..., ::-1].copy())
            truth.append([(n, box) for n, box in boxes if _visible(owner, n, box) >= 0.5])
    finally:
        writer.release()
    return truth


def confident_face(detector, faces: np.ndarray, labels: np.ndarray, wanted: str, side: int = 150) -> np.ndarray:
    """The first of ``faces`` (grey, (N, H, W, 1)) labelled ``wanted`` that ``detector`` (an
    EmotionDetector) also reads as ``wanted`` with at least 80% when pasted into a frame, so that a
    test built on it is about tracks and timelines, not about the model's errors."""
    for index in np.flatnonzero(labels == detector.class_names.index(wanted))[:200]:
        canvas = _background((640, 480), 0)
        _paste(canvas, _rgb(faces[index][..., 0]), (320, 240), side)
        found = detector(canvas).faces
        if len(found) == 1 and found[0].label == wanted and found[0].score > 0.8:
            return faces[index][..., 0]
    raise AssertionError(f"no face of class {wanted} is read as such with 80%")


#: The frame at which each person of :func:`two_people` changes expression, and the scene's length.
SWITCH, FRAMES = 20, 40


def two_people(path, detector, faces: np.ndarray, labels: np.ndarray, fps: float = 10.0):
    """Two people crossing the frame in opposite directions, each changing expression at frame
    :data:`SWITCH`: person A happy -> surprise along the top, person B neutral -> sad along the bottom."""
    face = {c: confident_face(detector, faces, labels, c) for c in ("happy", "surprise", "neutral", "sad")}
    actors = [Actor([(0, face["happy"]), (SWITCH, face["surprise"])], linear_path((120, 130), (520, 130), 0, 39)),
              Actor([(0, face["neutral"]), (SWITCH, face["sad"])], linear_path((520, 350), (120, 350), 0, 39))]
    return write_scene(path, actors, FRAMES, fps=fps)


def _visible(owner: np.ndarray, number: int, box) -> float:
    x, y, w, h = box
    return float(np.mean(owner[y:y + h, x:x + w] == number))


def _rgb(face: np.ndarray) -> np.ndarray:
    face = np.asarray(face, np.uint8)
    return np.repeat(face[..., None], 3, axis=-1) if face.ndim == 2 else face[..., :3]


def _paste(canvas: np.ndarray, face: np.ndarray, centre, side: int) -> tuple[int, int, int, int] | None:
    """Draw ``face`` scaled to ``side`` pixels centred at ``centre``, clipped to the canvas; its visible box."""
    scale = side / max(face.shape[:2])
    face = cv2.resize(face, (round(face.shape[1] * scale), round(face.shape[0] * scale)),
                      interpolation=cv2.INTER_CUBIC)
    height, width = canvas.shape[:2]
    x0, y0 = round(centre[0] - face.shape[1] / 2), round(centre[1] - face.shape[0] / 2)
    left, top = max(x0, 0), max(y0, 0)
    right, bottom = min(x0 + face.shape[1], width), min(y0 + face.shape[0], height)
    if right <= left or bottom <= top:
        return None
    canvas[top:bottom, left:right] = face[top - y0:bottom - y0, left - x0:right - x0]
    return left, top, right - left, bottom - top


def _background(size: tuple[int, int], seed: int) -> np.ndarray:
    """A soft, textured grey background (a plain one would be easier than any real scene)."""
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.uniform(60, 170, (12, 16)).astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 6, (size[1], size[0])).astype(np.float32)
    grey = np.clip(noise + grain, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)
