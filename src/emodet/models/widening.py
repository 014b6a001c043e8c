"""Growing a trained plain CNN wider without losing what it learned (Net2WiderNet).

Training a wider network from random weights costs as many CPU hours as the first one did. Chen et
al. (2016, "Net2Net: accelerating learning via knowledge transfer") widen a trained network so that
it computes the same function: each new filter of a convolution copies an existing one (with its
BatchNorm statistics), and the layer reading it splits the copied channel's outgoing weights among
the copies. Training then continues from the trained model's accuracy with the new capacity. A
little noise on the copies breaks their symmetry, so they learn different things.

Only the plain VGG-style backbones (``small_cnn``, ``small_cnn_top512``, ``wide_cnn``: blocks of
convolution -> BatchNorm -> ReLU, then global pooling and the head) can be widened this way.
"""

from __future__ import annotations

import keras
import numpy as np

from emodet.errors import ConfigError

# Standard deviation of the noise added to each copied filter, relative to its layer's weights' own.
COPY_NOISE = 0.01


def widen(model: keras.Model, backbone: str, *, seed: int = 0, noise: float = COPY_NOISE) -> keras.Model:
    """A new classifier with the wider plain ``backbone``, computing what ``model`` computes.

    ``model`` is an emodet classifier whose backbone has the same layers as ``backbone``, none
    wider than it; the result keeps its classes, input size, colour and dropout (augmentation off:
    a training run adds its own). With ``noise=0`` the two models' outputs agree to float precision.
    """
    from emodet.models.classifier import build_model, describe

    contract = describe(model)
    wide = build_model(backbone, contract.class_names, image_size=contract.image_size,
                       color_mode=contract.color_mode, weights=None,
                       dropout=model.get_layer("emotion_head").dropout_rate, augment=0,
                       source_size=contract.crop_size)
    pairs = _conv_bn_pairs(model.get_layer("backbone"), wide.get_layer("backbone"), contract.backbone, backbone)
    rng = np.random.default_rng(seed)
    (first_conv, _), _ = pairs[0]
    copied_from = np.arange(first_conv.kernel.shape[2])  # the input's channels are not widened
    for (conv, bn), (wide_conv, wide_bn) in pairs:
        copied_from = _widen_pair(conv, bn, wide_conv, wide_bn, copied_from, rng, noise)
    kernel, bias = model.get_layer("emotion_head").get_weights()
    wide.get_layer("emotion_head").set_weights([_split_inputs(kernel, copied_from, axis=0), bias])
    return wide


def _conv_bn_pairs(narrow: keras.Model, wide: keras.Model, narrow_name: str, wide_name: str):
    """Each convolution of both backbones with the BatchNorm after it, in order; refused unless both
    are plain CNNs of the same depth, the wide one nowhere narrower."""
    def pairs(backbone):
        convs = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Conv2D)]
        norms = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
        plain = len(convs) == len(norms) and all(c.name.replace("conv", "bn") == b.name for c, b in zip(convs, norms))
        return list(zip(convs, norms)) if plain and convs else None

    old, new = pairs(narrow), pairs(wide)
    if old is None or new is None:
        raise ConfigError("only plain CNN backbones (blocks of convolution, BatchNorm and ReLU, as small_cnn's) can be "
                          f"widened; got {narrow_name} -> {wide_name}")
    if [c.name for c, _ in old] != [c.name for c, _ in new] or any(
            w.filters < c.filters for (c, _), (w, _) in zip(old, new)):
        raise ConfigError(f"{wide_name} is not a wider {narrow_name}: it must have the same blocks, each with at "
                          f"least as many filters ({[c.filters for c, _ in old]} -> {[w.filters for w, _ in new]})")
    return list(zip(old, new))


def _widen_pair(conv, bn, wide_conv, wide_bn, copied_from: np.ndarray, rng, noise: float) -> np.ndarray:
    """Fill one wider convolution and its BatchNorm; return which old filter each new one copies."""
    kernel = _split_inputs(conv.get_weights()[0], copied_from, axis=2)
    filters, wide_filters = kernel.shape[3], wide_conv.filters
    copies = np.concatenate([np.arange(filters), rng.integers(0, filters, wide_filters - filters)])
    wide_kernel = kernel[..., copies]
    if wide_filters > filters and noise > 0:
        extra = wide_kernel[..., filters:]
        wide_kernel[..., filters:] = extra + rng.normal(0, noise * kernel.std(), extra.shape)
    wide_conv.set_weights([wide_kernel.astype(kernel.dtype)])
    wide_bn.set_weights([weights[copies] for weights in bn.get_weights()])
    return copies


def _split_inputs(weights: np.ndarray, copied_from: np.ndarray, axis: int) -> np.ndarray:
    """``weights`` reading the widened channels: each copy gets its original's weights divided by
    the number of copies of it, so their sum reads what the original did."""
    counts = np.bincount(copied_from, minlength=weights.shape[axis])
    taken = np.take(weights, copied_from, axis=axis)
    shape = [1] * weights.ndim
    shape[axis] = len(copied_from)
    return taken / counts[copied_from].reshape(shape)
