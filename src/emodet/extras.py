"""Which optional part of emodet (a pip extra) each feature needs, and the one-line error when it is missing.

``pip install emodet`` brings what detection needs (ONNX Runtime, OpenCV, numpy); training,
evaluation and export, the server, the registry, Ray, LiteRT and MTCNN come with extras. A feature
that needs one asks :func:`require` first, and the CLI turns an import that fails deeper down into the
same message (:func:`missing_extra`), so a user reads which extra to install instead of a traceback.
"""

from __future__ import annotations

import importlib.util

from emodet.errors import EmodetError

#: Each extra's modules, as imported (the first is checked by :func:`require`). One place: pyproject.toml
#: lists the same extras with their pinned packages.
EXTRAS: dict[str, tuple[str, ...]] = {
    "train": ("keras", "tensorflow", "sklearn", "matplotlib", "keras_tuner", "tf2onnx", "onnx", "tensorboard"),
    "report": ("matplotlib", "pyarrow"),
    "serve": ("fastapi", "uvicorn", "multipart", "websockets"),
    "registry": ("mlflow",),
    "ray": ("ray", "pyarrow"),
    "tflite": ("ai_edge_litert",),
    "mtcnn": ("mtcnn",),
    "jax": ("jax",),
}


class MissingExtraError(EmodetError, ImportError):
    """A feature was asked for whose extra is not installed."""


def message(extra: str, feature: str, module: str) -> str:
    """What to tell the user: the feature, the missing module and the install command."""
    return f"{feature} needs emodet's {extra!r} extra ({module} is not installed): pip install 'emodet[{extra}]'"


def require(extra: str, feature: str, module: str | None = None) -> None:
    """Raise :class:`MissingExtraError` unless ``module`` (default: ``extra``'s main one) can be imported."""
    module = module or EXTRAS[extra][0]
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(message(extra, feature, module))


def missing_extra(exc: ImportError, feature: str) -> MissingExtraError | None:
    """The one-line error for an import of an extra's module that failed, or None if the module
    belongs to no extra (a broken installation, to be reported as it is)."""
    if isinstance(exc, MissingExtraError):
        return exc
    top = (getattr(exc, "name", None) or "").split(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return MissingExtraError(message(extra, feature, top))
    return None
