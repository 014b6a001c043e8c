"""Ensembles: one classifier that averages the probabilities of several emodet classifiers.

Members trained separately (for example an ImageNet-initialised MobileNetV2 and the
from-scratch CNN) make different mistakes, so their average is more accurate than either.
The ensemble is a plain Keras functional model whose layers are the members' inference
models and an ``ensemble_average`` layer; it takes RGB uint8 images of any size like every
emodet classifier, each member resizing them to its own input size. Its contract
(:func:`emodet.models.classifier.describe`) is read from the members.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from emodet.errors import ModelError

ENSEMBLE_PREFIX = "emodet_ensemble_"
AVERAGE_LAYER = "ensemble_average"
#: Separates a member's backbone from the number that keeps repeated backbones' names unique.
MEMBER_SUFFIX = "__"


def average_models(models: Sequence[keras.Model]) -> keras.Model:
    """An ensemble averaging ``models``, which must predict the same classes in the same order."""
    from emodet.models.classifier import describe, inference_model

    if len(models) < 2:
        raise ModelError(f"an ensemble needs at least two models, got {len(models)}")
    contracts = [describe(model) for model in models]
    for contract in contracts[1:]:
        if contract.class_names != contracts[0].class_names:
            raise ModelError(f"ensemble members predict different classes: {list(contracts[0].class_names)} "
                             f"and {list(contract.class_names)}; combine models trained on the same label set")
    names = _member_names([contract.backbone for contract in contracts])
    members = [inference_model(model, name=member) for model, member in zip(models, names)]
    name = ENSEMBLE_PREFIX + "-".join(contract.backbone for contract in contracts)  # TF scope names: no "+"
    return _combine(members, keras.Input((None, None, 3), dtype="uint8", name="image"), name)


def ensemble_members(model: keras.Model) -> list[keras.Model]:
    """The member classifiers of an ensemble built by :func:`average_models`; empty for any other model.

    An ensemble is recognised by its ``ensemble_average`` layer, so renaming the model keeps it one.
    """
    if not any(layer.name == AVERAGE_LAYER for layer in model.layers):
        return []
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def fixed_size_ensemble(model: keras.Model, image_size: int) -> keras.Model:
    """The same ensemble (weights shared) taking ``image_size`` square inputs, as exporters need."""
    inputs = keras.Input((image_size, image_size, 3), dtype="uint8", name="image")
    return _combine(ensemble_members(model), inputs, model.name)


def _member_names(backbones: list[str]) -> list[str]:
    """Unique layer names for the members (two members may share a backbone)."""
    from emodet.models.classifier import MODEL_PREFIX

    names = []
    for backbone in backbones:
        name, n = MODEL_PREFIX + backbone, 2
        while name in names:
            name, n = f"{MODEL_PREFIX}{backbone}{MEMBER_SUFFIX}{n}", n + 1
        names.append(name)
    return names


def _combine(members: list[keras.Model], inputs, name: str) -> keras.Model:
    outputs = keras.layers.Average(name=AVERAGE_LAYER)([member(inputs, training=False) for member in members])
    return keras.Model(inputs, outputs, name=name)
