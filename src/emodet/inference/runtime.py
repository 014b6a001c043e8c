"""One classifier interface over three runtimes: Keras (``.keras``), ONNX Runtime (``.onnx``)
and LiteRT (``.tflite``).

Each takes aligned face crops, RGB uint8 ``(N, size, size, 3)``, and returns probabilities
``(N, K)``. The ONNX and TFLite runtimes never import TensorFlow.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np

from emodet.errors import ModelError

#: What an exported model's emodet metadata must hold.
CONTRACT_KEYS = ("class_names", "image_size", "color_mode")


class Classifier:
    """Base: the model's contract plus ``predict``. ``metadata`` is an exported file's whole emodet
    contract (its exporter's version, the sha256 of the model it came from, ...); empty for Keras."""

    class_names: tuple[str, ...]
    image_size: int
    color_mode: str
    path: Path | None = None
    metadata: dict

    def predict(self, faces: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def predict_images(self, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Probabilities for a set of labelled images (evaluation, validation): uint8 ``(N, H, W, 1|3)``
        of any one size, fed ``batch_size`` at a time, resized to the crop size where they differ."""
        from emodet.data.images import resize_images, to_rgb_batch

        probs = [np.zeros((0, len(self.class_names)), np.float32)]
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            if chunk.shape[1:3] != (self.image_size, self.image_size):
                chunk = resize_images(chunk, self.image_size)
            probs.append(self.predict(to_rgb_batch(chunk)))
        return np.concatenate(probs)

    def _check(self, faces: np.ndarray) -> np.ndarray:
        faces = np.asarray(faces)
        expected = (self.image_size, self.image_size, 3)
        if faces.dtype != np.uint8 or faces.ndim != 4 or faces.shape[1:] != expected:
            raise ValueError(f"faces must be uint8 (N, {self.image_size}, {self.image_size}, 3), "
                             f"got {faces.dtype} {faces.shape}")
        return np.ascontiguousarray(faces)


class KerasClassifier(Classifier):
    """A Keras emodet model (also one being trained: ``source``, as built, is what it predicts with)."""

    def __init__(self, model, path: Path | None = None):
        from emodet.models.classifier import describe

        contract = describe(model)
        self.class_names, self.image_size, self.color_mode = (contract.class_names, contract.crop_size,
                                                              contract.color_mode)
        self.source, self.path, self.metadata = model, path, {}

    @cached_property
    def model(self):
        """The model at a fixed crop size without its training-only parts (built on first use)."""
        from emodet.models.classifier import inference_model

        return inference_model(self.source, self.image_size)

    @cached_property
    def _call(self):
        return _compiled_call(self.model)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        faces = self._check(faces)
        if not len(faces):
            return np.zeros((0, len(self.class_names)), np.float32)
        return np.asarray(self._call(faces), dtype=np.float32)

    def predict_images(self, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Keras' own batched ``predict`` of the model as built, which takes any input size and resizes
        inside (so a training run's validation scores are the model's own); twice as fast as batch calls."""
        from emodet.data.images import to_rgb_batch

        if not len(images):
            return np.zeros((0, len(self.class_names)), np.float32)
        return self.source.predict(to_rgb_batch(images), batch_size=batch_size, verbose=0)


def _compiled_call(model):
    """A low-overhead inference call: on TensorFlow a traced function (Keras' predict_on_batch
    costs ~20 ms per call on a 2-core CPU, most of it overhead); elsewhere the plain call."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        traced = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        return lambda faces: traced(faces).numpy()
    return lambda faces: keras.ops.convert_to_numpy(model(faces, training=False))


class OnnxClassifier(Classifier):
    def __init__(self, path: Path, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # Idle worker threads would otherwise spin between calls and steal the face detector's CPU
        # (measured: 37 -> 45 frames per second end to end with YuNet on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"cannot load ONNX model {path}: {exc}") from None
        meta = self.session.get_modelmeta().custom_metadata_map.get("emodet")
        _apply_contract(self, meta, path, "its metadata (export it with `emodet export`)")
        self.input_name = self.session.get_inputs()[0].name
        self.path = path

    def predict(self, faces: np.ndarray) -> np.ndarray:
        faces = self._check(faces)
        if not len(faces):
            return np.zeros((0, len(self.class_names)), np.float32)
        return np.asarray(self.session.run(None, {self.input_name: faces})[0], dtype=np.float32)


class TFLiteClassifier(Classifier):
    def __init__(self, path: Path, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        from emodet.exporter import sidecar_path

        sidecar = sidecar_path(path)
        meta = sidecar.read_text() if sidecar.is_file() else None
        _apply_contract(self, meta, path, f"{sidecar.name} beside it (export it with `emodet export`)")
        try:
            self.interpreter = Interpreter(str(path), num_threads=threads)
        except Exception as exc:
            raise ModelError(f"cannot load TFLite model {path}: {exc}") from None
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.batch = None
        self.path = path

    def predict(self, faces: np.ndarray) -> np.ndarray:
        faces = self._check(faces)
        if not len(faces):
            return np.zeros((0, len(self.class_names)), np.float32)
        if self.batch != len(faces):
            self.interpreter.resize_tensor_input(self.input, list(faces.shape))
            self.interpreter.allocate_tensors()
            self.batch = len(faces)
        self.interpreter.set_tensor(self.input, faces)
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self.output), dtype=np.float32)


def runs_without_tensorflow(model) -> bool:
    """Whether the model ``model`` names runs on ONNX Runtime or LiteRT alone: an ``.onnx`` or
    ``.tflite`` file, or ``None`` (the bundled model, an ONNX file). Keras files need TensorFlow; a
    ``models:/`` reference may be either (counted as needing it)."""
    return model is None or str(model).endswith((".onnx", ".tflite"))


def open_classifier(path: str | Path, *, threads: int | None = None) -> Classifier:
    """The classifier in a ``.keras``, ``.onnx`` or ``.tflite`` file. ``threads`` caps an ONNX Runtime
    or TFLite model's threads (default: the runtime's own choice); a Keras model's threads are
    TensorFlow's, set process-wide. (:func:`emodet.inference.loading.load_classifier` takes the
    bundled model and registry references too.)"""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ModelError(f"model {path} is a directory, not a model file; pass a .keras, .onnx or .tflite emodet "
                         "model (a run directory holds best.keras)")
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist; pass a .keras, .onnx or .tflite emodet model")
    if path.suffix == ".onnx":
        return OnnxClassifier(path, threads=threads or 0)
    if path.suffix == ".tflite":
        return TFLiteClassifier(path, threads=threads)
    from emodet.extras import require

    require("train", f"the Keras model {path} (or export it to ONNX: emodet export)")
    from emodet.models.classifier import load_model

    return KerasClassifier(load_model(path), path)


def _apply_contract(classifier: Classifier, meta: str | None, path: Path, where: str) -> None:
    if not meta:
        raise ModelError(f"{path} carries no emodet contract (class names, input size); expected {where}")
    try:
        contract = json.loads(meta)
    except ValueError as exc:
        raise ModelError(f"the emodet contract of {path} (in {where}) is not valid JSON ({exc}); "
                         "export the model again with `emodet export`") from None
    missing = [key for key in CONTRACT_KEYS if not isinstance(contract, dict) or key not in contract]
    if missing:
        raise ModelError(f"the emodet contract of {path} (in {where}) lacks {', '.join(missing)}; "
                         "export the model again with `emodet export`")
    try:
        classifier.metadata = contract
        classifier.class_names = tuple(str(name) for name in contract["class_names"])
        classifier.image_size = int(contract.get("crop_size") or contract["image_size"])
        classifier.color_mode = str(contract["color_mode"])
    except (TypeError, ValueError) as exc:
        raise ModelError(f"the emodet contract of {path} (in {where}) has a malformed value ({exc}); "
                         "export the model again with `emodet export`") from None
