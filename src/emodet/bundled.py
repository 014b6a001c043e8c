"""The model shipped inside the package, used when no model is given.

It is an ensemble of two FER2013 classifiers, an ImageNet-initialised MobileNetV2 and the
from-scratch ``small_cnn``, whose probabilities are averaged: on FER2013 PublicTest (where
models are chosen) the pair beats either member. The members ship as two ``.keras`` files, each
checked against the checksum recorded here before it is loaded, so a damaged or swapped file is
reported instead of silently giving other predictions. How they were trained and how well they
do: docs/MODEL_CARD.md.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import Path

from emodet.errors import ModelError

#: Name of the bundled model (exports of it are named after it).
MODEL_NAME = "emodet-fer2013"

#: The members' backbones and the sha256 checksums of their files (see :func:`member_file`).
MEMBERS = {
    "mobilenet_v2": "b1a1503e02859ea6f4836011f58f96c0d0734efe79b6e37f0f6e6fd3a1fa2418",
    "small_cnn": "dcc4e9295eeb056e75a28cefac4fc94dc8a3e76e0618fc1deed07801e238f28d",
}

#: Accuracy of the bundled model on FER2013 PrivateTest (3,589 images, no test-time augmentation),
#: as reported in docs/MODEL_CARD.md; tests fail if a change drops it by more than half a point.
PRIVATE_TEST_ACCURACY = 0.6785


def load_bundled_model():
    """The bundled classifier as one Keras model (see :mod:`emodet.models.ensemble`)."""
    from emodet.models.classifier import load_model
    from emodet.models.ensemble import average_models

    return average_models([load_model(path) for path in bundled_model_paths()])


def bundled_model_paths() -> list[Path]:
    """The verified paths of the bundled member models."""
    return [_member_path(member_file(backbone), sha256) for backbone, sha256 in MEMBERS.items()]


def member_file(backbone: str) -> str:
    """The file name of the bundled member with this backbone, in ``emodet/assets/models``."""
    return f"{MODEL_NAME}-{backbone}.keras"


def _member_path(name: str, sha256: str) -> Path:
    path = Path(str(resources.files("emodet") / "assets" / "models" / name))
    if not path.is_file():
        raise ModelError(f"the bundled model file {path} is missing from this installation; reinstall emodet "
                         "or pass a model file explicitly (--model PATH)")
    _verify(path, path.stat().st_mtime_ns, sha256)
    return path


@functools.lru_cache(maxsize=8)
def _verify(path: Path, mtime_ns: int, expected: str) -> None:
    del mtime_ns  # part of the cache key: a replaced file is checked again
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ModelError(f"the bundled model file {path} is damaged or was replaced: its sha256 is {digest}, "
                         f"expected {expected}; reinstall emodet")
