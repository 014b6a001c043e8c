"""Means of models in weight space: one model of the same size whose weights average several.

Models fine-tuned from one starting model often stay in one basin of the loss, where the mean of
their weights works as a model and can keep what each learned (Wortsman et al. 2022: "Robust
fine-tuning of zero-shot models" (WiSE-FT), "Model soups"). Unlike an ensemble it costs one forward
pass. BatchNorm's moving statistics are averaged like the rest; integer weights (counters) are the
first model's.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from emodet.errors import ConfigError


def average_weights(models: Sequence[keras.Model], weights: Sequence[float], names: Sequence[str] = ()) -> list:
    """The weighted mean of ``models``' weight lists (``model.get_weights()`` order).

    Every model must have the first one's architecture (same weights, same shapes); ``weights``
    are non-negative and sum to 1. ``names`` name the models in errors (default: their Keras names).
    """
    names = list(names) or [model.name for model in models]
    if len(weights) != len(models) or min(weights) < 0 or abs(sum(weights) - 1.0) > 1e-6:
        raise ConfigError(f"averaging {len(models)} models needs as many non-negative weights summing to 1, "
                          f"got {list(weights)}")
    arrays = [model.get_weights() for model in models]
    for name, own in zip(names[1:], arrays[1:]):
        if [a.shape for a in own] != [a.shape for a in arrays[0]]:
            raise ConfigError(f"{name} does not have the architecture of {names[0]}; average only models of one "
                              "network (one backbone, input size and head)")
    return [first if first.dtype.kind != "f" else sum(w * own[i] for w, own in zip(weights, arrays)).astype(first.dtype)
            for i, first in enumerate(arrays[0])]
