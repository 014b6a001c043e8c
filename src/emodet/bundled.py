"""The model shipped inside the package, used when no model is given.

One classifier of FER2013's seven classes, trained on FER2013 and RAF-DB, in one file
(``MODEL_FILE``), checked against the checksum recorded here before it is loaded, so a damaged or
swapped file is reported instead of silently giving other predictions. How it was trained, how it
was chosen, how well it does on FER2013, RAF-DB and CK+48, and the terms of its training data:
docs/MODEL_CARD.md.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import Path

from emodet.errors import ModelError

#: Name of the bundled model (exports of it are named after it).
MODEL_NAME = "emodet-fer2013"

#: The bundled model's file in ``emodet/assets/models`` and its sha256 checksum.
MODEL_FILE = f"{MODEL_NAME}.keras"
MODEL_SHA256 = "433f3e67e4955432aa532369109900e3d51187bd367cda06d20c5d74e6944d27"

#: Its prediction profile on FER2013 PublicTest (:mod:`emodet.evaluation.drift`), written by tools/bundle_model.py.
PROFILE_FILE = f"{MODEL_NAME}.profile.json"

#: Accuracy of the bundled model on FER2013 PrivateTest (3,589 images, no test-time augmentation),
#: as reported in docs/MODEL_CARD.md; tests fail if a change drops it by more than half a point.
PRIVATE_TEST_ACCURACY = 0.6598

#: The lowest per-class recall of the bundled model on CK+48 (frames, contempt left out; it was never
#: trained on CK+); tests fail if a change lets a class fall more than two points below it.
CKPLUS_MIN_RECALL = 0.348


def load_bundled_model():
    """The bundled classifier as a Keras model."""
    from emodet.models.classifier import load_model

    return load_model(bundled_model_path())


def bundled_model_path() -> Path:
    """The verified path of the bundled model file."""
    path = Path(str(resources.files("emodet") / "assets" / "models" / MODEL_FILE))
    if not path.is_file():
        raise ModelError(f"the bundled model file {path} is missing from this installation; reinstall emodet "
                         "or pass a model file explicitly (--model PATH)")
    _verify(path, path.stat().st_mtime_ns, MODEL_SHA256)
    return path


def bundled_profile_path() -> Path:
    """The bundled model's prediction profile on FER2013 PublicTest, the reference of ``emodet drift``."""
    path = Path(str(resources.files("emodet") / "assets" / "models" / PROFILE_FILE))
    if not path.is_file():
        raise ModelError(f"the bundled model's profile {path} is missing from this installation; reinstall emodet "
                         "or pass --profile RUN_DIR/profile.json")
    return path


@functools.lru_cache(maxsize=8)
def _verify(path: Path, mtime_ns: int, expected: str) -> None:
    del mtime_ns  # part of the cache key: a replaced file is checked again
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ModelError(f"the bundled model file {path} is damaged or was replaced: its sha256 is {digest}, "
                         f"expected {expected}; reinstall emodet")
