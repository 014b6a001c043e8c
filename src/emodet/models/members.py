"""How an ensemble's graph is laid out (the members, their average), so that code reading any emodet
model can recognise one without importing the code that builds them (:mod:`emodet.models.ensemble`)."""

from __future__ import annotations

import keras

ENSEMBLE_PREFIX = "emodet_ensemble_"
AVERAGE_LAYER = "ensemble_average"
#: Separates a member's backbone from the number that keeps repeated backbones' names unique.
MEMBER_SUFFIX = "__"


def ensemble_members(model: keras.Model) -> list[keras.Model]:
    """The member classifiers of an ensemble built by :func:`~emodet.models.ensemble.average_models`;
    empty for any other model.

    An ensemble is recognised by its ``ensemble_average`` layer, so renaming the model keeps it one.
    """
    if not any(layer.name == AVERAGE_LAYER for layer in model.layers):
        return []
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def fixed_size_ensemble(model: keras.Model, image_size: int) -> keras.Model:
    """The same ensemble (weights shared) taking ``image_size`` square inputs, as exporters need."""
    inputs = keras.Input((image_size, image_size, 3), dtype="uint8", name="image")
    return combine(ensemble_members(model), inputs, model.name)


def combine(members: list[keras.Model], inputs, name: str) -> keras.Model:
    """The ensemble graph: every member applied to ``inputs``, their probabilities averaged."""
    outputs = keras.layers.Average(name=AVERAGE_LAYER)([member(inputs, training=False) for member in members])
    return keras.Model(inputs, outputs, name=name)
