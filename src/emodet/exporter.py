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


def export(model, path: str | Path, format: str | None = None, *, int8_calibration=None,
           metadata: dict | None = None) -> Path:
    """Write ``model`` (a Keras model or a ``.keras`` path) to ``path``; returns the written path.

    ``format`` defaults to what the suffix says: ``.onnx``, ``.tflite``, else a SavedModel directory.
    ``int8_calibration`` (ONNX only): face images (:class:`~emodet.data.images.LabelledImages`) to
    calibrate an 8-bit quantized model on (:func:`quantize_onnx`). The written contract holds the
    model's :class:`~emodet.models.classifier.ModelContract`, the emodet version, the sha256 of the
    ``.keras`` file when ``model`` is one (``source_sha256``), and the entries of ``metadata``.
    """
    import hashlib

    import keras

    from emodet import __version__
    from emodet.models.classifier import describe, inference_model, load_model

    extra = {"emodet_version": __version__, **(metadata or {})}
    if isinstance(model, (str, Path)):
        extra["source_sha256"] = hashlib.sha256(Path(model).read_bytes()).hexdigest()
        model = load_model(model)
    path = Path(path)
    format = format or {".onnx": "onnx", ".tflite": "tflite"}.get(path.suffix, "saved_model")
    if format not in FORMATS:
        raise ConfigError(f"export format {format!r} is not supported; use one of {', '.join(FORMATS)}")
    if int8_calibration is not None and format != "onnx":
        raise ConfigError(f"8-bit quantization is offered for ONNX exports, not {format}; use --format onnx")
    contract = describe(model)
    graph = inference_model(model, contract.crop_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = json.dumps({**asdict(contract), **extra})
    signature = [keras.InputSpec(shape=(None, contract.crop_size, contract.crop_size, 3), dtype="uint8")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # tf2onnx's numpy deprecations
        if format == "onnx":
            graph.export(str(path), format="onnx", input_signature=signature, verbose=False)
            if int8_calibration is not None:
                quantize_onnx(path, int8_calibration, contract.crop_size)
            _add_onnx_metadata(path, metadata)
        elif format == "tflite":
            graph.export(str(path), format="litert", input_signature=signature, verbose=False)
            sidecar_path(path).write_text(metadata)
        else:
            graph.export(str(path), format="tf_saved_model", input_signature=signature, verbose=False)
            (path / "emodet.json").write_text(metadata)
    return path


#: Faces to calibrate the 8-bit activations' ranges on: measured enough (500 faces of FER2013
#: Training: PublicTest accuracy 65.51% against 65.53% in float32; docs/BENCHMARKS.md).
CALIBRATION_IMAGES = 500


def quantize_onnx(path: Path, calibration, size: int, *, limit: int = CALIBRATION_IMAGES, seed: int = 0) -> Path:
    """Replace the float ONNX model at ``path`` by its static int8 quantization (QDQ, per-channel
    weights), with activation ranges calibrated on up to ``limit`` of the ``calibration`` faces.

    About 3x faster at batch 1 on a CPU with 8-bit dot products (VNNI), a quarter of the size.
    """
    import tempfile

    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from emodet.data.images import resized

    faces = resized(calibration.stratified_sample(limit, seed), size).images
    if len(faces) == 0:
        raise ConfigError("the calibration data for 8-bit quantization holds no images")
    faces = np.repeat(faces, 3, axis=-1) if faces.shape[-1] == 1 else faces

    class Faces(CalibrationDataReader):
        def __init__(self, name):
            self.items = iter({name: faces[i:i + 1]} for i in range(len(faces)))

        def get_next(self):
            return next(self.items, None)

    import onnx

    name = onnx.load(str(path)).graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(path), Faces(name), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
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
