"""emodet: facial emotion recognition with Keras 3.

The public API is imported lazily, so ``import emodet`` stays fast and does not load
TensorFlow until a model is actually needed.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "FER7": "emodet.labels",
    "FERPLUS8": "emodet.labels",
    "RunConfig": "emodet.config",
    "load_config": "emodet.config",
    "EmodetError": "emodet.errors",
    "load_splits": "emodet.data",
    "load_split": "emodet.data",
    "LabelledImages": "emodet.data",
    "build_model": "emodet.models",
    "load_model": "emodet.models",
    "describe": "emodet.models",
    "list_backbones": "emodet.models",
    "fit": "emodet.training",
    "train": "emodet.training",
    "evaluate": "emodet.evaluation",
    "EvaluationReport": "emodet.evaluation",
    "EmotionDetector": "emodet.inference.pipeline",
    "FrameResult": "emodet.inference.results",
    "FaceResult": "emodet.inference.results",
    "summarize": "emodet.summary",
    "export": "emodet.exporter",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'emodet' has no attribute {name!r}")
    try:
        module = importlib.import_module(_EXPORTS[name])
    except ImportError as exc:  # e.g. emodet.train without the 'train' extra: one line that says which
        from emodet.extras import missing_extra

        raise missing_extra(exc, f"emodet.{name}") or exc from None
    return getattr(module, name)


def __dir__():
    return __all__
