"""Annotating images with detection results (boxes, labels, landmarks)."""

from __future__ import annotations

import cv2
import numpy as np

from emodet.labels import class_rgb


def draw_faces(image: np.ndarray, faces) -> np.ndarray:
    """Return a copy of RGB ``image`` with every face's box, track id and top emotion."""
    canvas = np.ascontiguousarray(image.copy())
    scale = max(canvas.shape[:2]) / 640
    thickness = max(1, int(round(2 * scale)))
    for face in faces:
        x, y, w, h = (int(round(v)) for v in face.box)
        color = class_rgb(face.label)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), color, thickness)
        if face.landmarks is not None:
            for px, py in np.asarray(face.landmarks):
                cv2.circle(canvas, (int(px), int(py)), thickness + 1, color, -1)
        text = f"{face.label} {face.score:.0%}" + (f" #{face.track_id}" if face.track_id is not None else "")
        _label(canvas, text, (x, y), color, 0.5 * max(scale, 0.6), thickness)
    return canvas


def _label(canvas, text, corner, color, font_scale, thickness) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, font_scale, thickness)
    x, y = corner
    top = y - th - base - 4 if y - th - base - 4 >= 0 else y
    cv2.rectangle(canvas, (x, top), (x + tw + 4, top + th + base + 4), color, -1)
    cv2.putText(canvas, text, (x + 2, top + th + 2), font, font_scale, (0, 0, 0), thickness, cv2.LINE_AA)
