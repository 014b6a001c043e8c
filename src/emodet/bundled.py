"""The model shipped inside the package, used when no model is given.

Its file is checked against the checksum recorded here before it is loaded, so a damaged or
swapped file is reported instead of silently giving other predictions. How it was trained and
how well it does: docs/MODEL_CARD.md.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import Path

from emodet.errors import ModelError

MODEL_FILE = "emodet-fer2013-mobilenet_v2.keras"
MODEL_SHA256 = "b1a1503e02859ea6f4836011f58f96c0d0734efe79b6e37f0f6e6fd3a1fa2418"


def bundled_model_path() -> Path:
    """The verified path of the bundled ``.keras`` model."""
    path = Path(str(resources.files("emodet") / "assets" / "models" / MODEL_FILE))
    if not path.is_file():
        raise ModelError(f"the bundled model {path} is missing from this installation; reinstall emodet "
                         "or pass a model file explicitly (--model PATH)")
    _verify(path, path.stat().st_mtime_ns)
    return path


@functools.lru_cache(maxsize=4)
def _verify(path: Path, mtime_ns: int) -> None:
    del mtime_ns  # part of the cache key: a replaced file is checked again
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise ModelError(f"the bundled model {path} is damaged or was replaced: its sha256 is {digest}, "
                         f"expected {MODEL_SHA256}; reinstall emodet")

#: Accuracy of the bundled model on FER2013 PrivateTest (3,589 images, no test-time augmentation),
#: as reported in docs/MODEL_CARD.md; tests fail if a change drops it by more than half a point.
PRIVATE_TEST_ACCURACY = 0.6428
