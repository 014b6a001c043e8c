"""Knowledge distillation: training targets that carry a stronger teacher's probabilities.

An ensemble of models, or one model averaged over flipped faces (test-time augmentation), scores
higher than a single forward pass but costs several per face. Distillation (Hinton et al., 2015,
"Distilling the knowledge in a neural network") trains the one fast model that is deployed, the
student, on targets blended from the labels and the teacher's probabilities for the same training
images, so the single file inherits part of the teacher's accuracy. Only training targets change:
validation and test keep their labels, so the protocol (and every reported number) is unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emodet.config import TrainConfig
from emodet.data.images import LabelledImages
from emodet.errors import ConfigError
from emodet.labels import canonical_label


def teacher_probabilities(teachers: Sequence, data: LabelledImages, *, tta: bool | str | None = TrainConfig.teacher_tta,
                          batch_size: int = 128) -> np.ndarray:
    """The teachers' mean class probabilities for every image of ``data``, in ``data``'s class order.

    ``teachers`` are Keras models or paths to model files (``.keras``, ``.onnx``, ``.tflite``); each is
    fed the images at its own input size. ``tta`` averages each teacher over views of each face (:mod:`emodet.inference.tta`;
    ``"flip"``: the face and its mirror image). A teacher that lacks one of ``data``'s classes is
    refused; probability it gives to classes ``data`` lacks is dropped and the rest renormalised.
    """
    from emodet.evaluation.metrics import predict_proba

    if not teachers:
        raise ConfigError("distillation needs at least one teacher model")
    total = np.zeros((len(data), len(data.class_names)), np.float64)
    for teacher in teachers:
        classifier = _classifier(teacher)
        columns = _columns(classifier.class_names, data.class_names, teacher)
        probs = predict_proba(classifier, data, batch_size=batch_size, tta=tta)[:, columns]
        total += probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    return (total / len(teachers)).astype(np.float32)


def distilled(data: LabelledImages, teacher_probs: np.ndarray, blend: float) -> LabelledImages:
    """``data`` with targets ``(1 - blend) * targets + blend * teacher_probs``."""
    if not 0.0 < blend <= 1.0:
        raise ConfigError(f"the teacher's share of the targets must be in (0, 1], got {blend}")
    if teacher_probs.shape != data.targets.shape:
        raise ValueError(f"teacher probabilities must be {data.targets.shape}, got {teacher_probs.shape}")
    targets = (1.0 - blend) * data.targets + blend * teacher_probs
    return dataclasses.replace(data, targets=targets.astype(np.float32))


def check_teachers(teachers: Sequence) -> None:
    """Refuse teacher paths that name no file, before any data is loaded."""
    for teacher in teachers:
        if isinstance(teacher, (str, Path)) and not Path(teacher).expanduser().is_file():
            raise ConfigError(f"teacher model {teacher} does not exist; give a .keras file written by emodet")


def teacher_paths(text: str) -> list[str]:
    """The comma-separated teacher model paths of a config value (``train.teachers``)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _classifier(teacher):
    """A teacher model, or its path (refused first in the training's words if it names no file)."""
    from emodet.inference.loading import load_classifier

    if isinstance(teacher, (str, Path)):
        check_teachers([teacher])
    return load_classifier(teacher)


def _columns(teacher_classes, data_classes, teacher) -> list[int]:
    index = {canonical_label(name): k for k, name in enumerate(teacher_classes)}
    missing = [name for name in data_classes if canonical_label(name) not in index]
    if missing:
        name = teacher if isinstance(teacher, (str, Path)) else getattr(teacher, "name", "the teacher")
        raise ConfigError(f"teacher {name} does not predict {', '.join(missing)} (it predicts "
                          f"{', '.join(teacher_classes)}); choose a teacher trained on the same classes")
    return [index[canonical_label(name)] for name in data_classes]
