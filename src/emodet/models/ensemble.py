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
from emodet.models.classifier import MODEL_PREFIX, describe, inference_model
from emodet.models.members import ENSEMBLE_PREFIX, MEMBER_SUFFIX, combine, ensemble_members

__all__ = ["average_models", "ensemble_members"]


def average_models(models: Sequence[keras.Model]) -> keras.Model:
    """An ensemble averaging ``models``, which must predict the same classes in the same order."""
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
    return combine(members, keras.Input((None, None, 3), dtype="uint8", name="image"), name)


def _member_names(backbones: list[str]) -> list[str]:
    """Unique layer names for the members (two members may share a backbone)."""
    names = []
    for backbone in backbones:
        name, n = MODEL_PREFIX + backbone, 2
        while name in names:
            name, n = f"{MODEL_PREFIX}{backbone}{MEMBER_SUFFIX}{n}", n + 1
        names.append(name)
    return names
