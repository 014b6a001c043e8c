"""The model shipped inside the package, used when no model is given.

One classifier of FER2013's seven classes, trained on FER2013 and RAF-DB, shipped as two files
made from the same weights by tools/bundle_model.py: ``ONNX_FILE``, what detection runs (ONNX
Runtime only, so the lean install needs no TensorFlow), and ``MODEL_FILE``, the Keras model to
retrain or fine-tune (``emodet[train]``). Each is checked against the checksum recorded here before
it is loaded, so a damaged or swapped file is reported instead of silently giving other predictions;
the ONNX file's metadata names the Keras file it was exported from. How it was trained, how it
was chosen, how well it does on FER2013, RAF-DB and CK+48, and the terms of its training data:
docs/MODEL_CARD.md.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from emodet.errors import ModelError
from emodet.inference.model_files import sha256_of

#: Name of the bundled model (exports of it are named after it).
MODEL_NAME = "emodet-fer2013"

#: Which version of docs/MODEL_CARD.md (a training run, or 4.1: two of run 4's epochs averaged) the bundled
#: files hold (written into the ONNX metadata).
MODEL_VERSION = "4.1"

#: The bundled Keras model's file in ``emodet/assets/models`` and its sha256 checksum.
MODEL_FILE = f"{MODEL_NAME}.keras"
MODEL_SHA256 = "f8d15b239002ed6e79aa0f89e63de9f2fc669feae437af258f8ac23c02e09f4d"

#: The same model exported to ONNX (float32: its int8 export loses more than 0.3 point on CK+48 frames
#: and RAF-DB; docs/MODEL_CARD.md, "The two files"), and its sha256 checksum.
ONNX_FILE = f"{MODEL_NAME}.onnx"
ONNX_SHA256 = "2433e4e2a14fa8d4bd85da06dedb81bb3e5dbb4276d965f236caf2131aa7479e"

#: How far the ONNX file's probabilities may be from the Keras model's on any face (tests/test_bundled.py).
ONNX_TOLERANCE = 1e-4

#: Its prediction profile on FER2013 PublicTest (:mod:`emodet.evaluation.drift`), written by tools/bundle_model.py.
PROFILE_FILE = f"{MODEL_NAME}.profile.json"

#: Accuracy of the bundled model on FER2013 PrivateTest (3,589 images, no test-time augmentation),
#: as reported in docs/MODEL_CARD.md; tests fail if a change drops it by more than half a point.
PRIVATE_TEST_ACCURACY = 0.6548

#: The lowest per-class recall of the bundled model on CK+48 (frames, contempt left out; it was never
#: trained on CK+); tests fail if a change lets a class fall more than two points below it.
CKPLUS_MIN_RECALL = 0.400


def load_bundled_model():
    """The bundled classifier as a Keras model (needs ``emodet[train]``), to retrain or fine-tune."""
    from emodet.extras import require

    require("train", "the bundled Keras model")
    from emodet.models.classifier import load_model

    return load_model(bundled_model_path())


def load_bundled_classifier(threads: int = 0):
    """The bundled classifier as detection runs it: the ONNX file on ONNX Runtime, its contract
    checked against the Keras file it was exported from."""
    from emodet.inference.runtime import OnnxClassifier

    path = bundled_onnx_path()
    classifier = OnnxClassifier(path, threads=threads)
    found = (classifier.metadata.get("source_sha256"), classifier.metadata.get("model_version"))
    if found != (MODEL_SHA256, MODEL_VERSION):
        raise ModelError(f"the bundled ONNX model {path} was exported from another model (source sha256 "
                         f"{found[0]}, version {found[1]}; expected {MODEL_SHA256}, version {MODEL_VERSION}); "
                         "reinstall emodet, or rebuild both files with tools/bundle_model.py")
    return classifier


def bundled_model_path() -> Path:
    """The verified path of the bundled Keras model file."""
    return _asset(MODEL_FILE, MODEL_SHA256)


def bundled_onnx_path() -> Path:
    """The verified path of the bundled ONNX model file."""
    return _asset(ONNX_FILE, ONNX_SHA256)


def _asset(name: str, sha256: str) -> Path:
    path = Path(str(resources.files("emodet") / "assets" / "models" / name))
    if not path.is_file():
        raise ModelError(f"the bundled model file {path} is missing from this installation; reinstall emodet "
                         "or pass a model file explicitly (--model PATH)")
    _verify(path, path.stat().st_mtime_ns, sha256)
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
    digest = sha256_of(path)
    if digest != expected:
        raise ModelError(f"the bundled model file {path} is damaged or was replaced: its sha256 is {digest}, "
                         f"expected {expected}; reinstall emodet")
