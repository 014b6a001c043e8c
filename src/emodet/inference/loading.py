"""Getting a classifier from whatever names one: the one entry point of every consumer (the detection
pipeline, the server, Ray, evaluation, the benchmarks).

Kept apart from :mod:`emodet.inference.runtime` (the runtimes themselves), which the registry uses
to read model files: resolving ``models:/`` references needs the registry, so this module sits above both.
"""

from __future__ import annotations

from pathlib import Path

from emodet.inference.runtime import Classifier, KerasClassifier, open_classifier
from emodet.registry.references import is_reference


def load_classifier(model=None, *, registry: str | None = None, threads: int | None = None) -> Classifier:
    """A classifier from a Keras model, a ``.keras``/``.onnx``/``.tflite`` path, a registry reference
    (``models:/NAME@ALIAS`` in ``registry``, default ``$EMODET_REGISTRY``), or ``None``: the bundled
    model's ONNX file. ``threads`` caps an ONNX Runtime or TFLite model's threads (default: the
    runtime's own choice); a Keras model's threads are TensorFlow's, set process-wide. A classifier
    is returned as it is."""
    if isinstance(model, Classifier):
        return model
    if model is None:
        from emodet.bundled import load_bundled_classifier

        return load_bundled_classifier(threads=threads or 0)
    if is_reference(model):
        from emodet.registry.store import open_registry

        model = open_registry(registry, create=False).model_path(model)
    if isinstance(model, (str, Path)):
        return open_classifier(model, threads=threads)
    return KerasClassifier(model)
