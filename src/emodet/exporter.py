"""Exporting a trained Keras classifier to ONNX, TFLite (LiteRT) or a TensorFlow SavedModel.

The exported graph is the inference model (no augmentation, dropout off) with a fixed
``(batch, size, size, 3)`` uint8 input. Its contract (class names, input size, colour mode)
travels with it: inside the ONNX file's metadata, and in a ``.json`` file beside a ``.tflite``
file or inside a SavedModel directory, so the detector's runtimes never need the training config.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path

from emodet.errors import ConfigError

FORMATS = ("onnx", "tflite", "saved_model")
METADATA_KEY = "emodet"


def export(model, path: str | Path, format: str | None = None) -> Path:
    """Write ``model`` (a Keras model or a ``.keras`` path) to ``path``; returns the written path.

    ``format`` defaults to what the suffix says: ``.onnx``, ``.tflite``, else a SavedModel directory.
    """
    import keras

    from emodet.models.classifier import describe, inference_model, load_model

    if isinstance(model, (str, Path)):
        model = load_model(model)
    path = Path(path)
    format = format or {".onnx": "onnx", ".tflite": "tflite"}.get(path.suffix, "saved_model")
    if format not in FORMATS:
        raise ConfigError(f"export format {format!r} is not supported; use one of {', '.join(FORMATS)}")
    contract = describe(model)
    graph = inference_model(model, contract.crop_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = json.dumps(asdict(contract))
    signature = [keras.InputSpec(shape=(None, contract.crop_size, contract.crop_size, 3), dtype="uint8")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # tf2onnx's numpy deprecations
        if format == "onnx":
            graph.export(str(path), format="onnx", input_signature=signature, verbose=False)
            _add_onnx_metadata(path, metadata)
        elif format == "tflite":
            graph.export(str(path), format="litert", input_signature=signature, verbose=False)
            sidecar_path(path).write_text(metadata)
        else:
            graph.export(str(path), format="tf_saved_model", input_signature=signature, verbose=False)
            (path / "emodet.json").write_text(metadata)
    return path


def sidecar_path(tflite_path: Path) -> Path:
    """Where the contract of a ``.tflite`` model lives: ``model.tflite`` -> ``model.tflite.json``."""
    return tflite_path.with_name(tflite_path.name + ".json")


def _add_onnx_metadata(path: Path, metadata: str) -> None:
    import onnx

    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, metadata
    onnx.save(proto, str(path))
