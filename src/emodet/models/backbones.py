"""The backbone registry: name -> constructor, input size, normalisation and fine-tuning blocks.

Each entry knows what differs between architectures, so the rest of emodet treats them alike:
how inputs must be normalised for the ImageNet weights, the default square input size, and how
its layers group into blocks (a regex over layer names), which is where stage-2 fine-tuning
may cut. ImageNet weights come from Keras' own loader: downloaded once on a user's machine,
found offline in ``$KERAS_HOME/models`` when that folder is seeded.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras

from emodet.errors import ConfigError, ModelError


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    # Builds the headless network: (input_shape, weights or None) -> keras.Model.
    build: Callable[[tuple[int, int, int], str | None], keras.Model]
    # Default square input size in pixels.
    input_size: int
    # BackboneNormalization mode matching the pretrained weights.
    normalization: str
    # Regex whose first group names the block a layer belongs to.
    block_pattern: str
    # How many top blocks stage 2 unfreezes by default.
    finetune_blocks: int
    # Whether ImageNet weights exist for it (False: trained from scratch only).
    pretrained: bool = True
    description: str = ""


def _application(factory_name: str, **fixed) -> Callable:
    def build(input_shape, weights):
        factory = getattr(keras.applications, factory_name)
        with warnings.catch_warnings():
            # Keras warns that it loads the 224-px weights for other sizes; that is intended.
            warnings.filterwarnings("ignore", message=".*will be loaded as the default.*")
            try:
                return factory(include_top=False, weights=weights, input_shape=input_shape, **fixed)
            except Exception as exc:  # Keras' get_file raises a bare Exception when it cannot download
                if weights == "imagenet" and str(exc).startswith("URL fetch failure"):
                    raise missing_weights_error(factory_name, str(exc)) from None
                raise

    return build


def missing_weights_error(factory_name: str, message: str) -> ModelError:
    """One message for ImageNet weights that Keras could neither find in its cache nor download:
    which file, where Keras looks for it, and how to go on."""
    import os

    url = re.search(r"https?://\S+?(?=:? |$)", message)
    filename = url.group(0).rstrip(":").rsplit("/", 1)[-1] if url else f"the {factory_name} weights file"
    cache = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"
    return ModelError(f"the ImageNet weights of {factory_name} ({filename}) are not in Keras' cache {cache} and "
                      f"could not be downloaded{f' from {url.group(0)}' if url else ''} (offline?); copy {filename} "
                      f"into {cache} (or point KERAS_HOME at a folder whose models/ holds it), or train from "
                      "random weights with --set model.weights=none")


def _plain_cnn(name: str, widths: tuple[int, ...]) -> Callable:
    """A plain VGG-style CNN for training from scratch: blocks of two 3x3 convolutions with
    BatchNorm, ``widths`` filters, max-pooling between blocks (none after the last)."""

    def build(input_shape, weights):
        if weights is not None:
            raise ConfigError(f"{name} has no pretrained weights; use model.weights=none")
        inputs = keras.Input(input_shape)
        x = inputs
        for i, filters in enumerate(widths, start=1):
            for j in (1, 2):
                x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{i}_conv{j}")(x)
                x = keras.layers.BatchNormalization(name=f"block{i}_bn{j}")(x)
                x = keras.layers.Activation("relu", name=f"block{i}_relu{j}")(x)
            if i < len(widths):
                x = keras.layers.MaxPooling2D(name=f"block{i}_pool")(x)
        return keras.Model(inputs, x, name=name)

    return build


_SPECS = (
    BackboneSpec("mobilenet_v2", _application("MobileNetV2", alpha=1.0), 112, "tf", r"^block_(\d+)_", 8,
                 description="MobileNetV2 (alpha 1.0), 2.3M parameters: the default, fast on CPUs"),
    BackboneSpec("mobilenet_v2_035", _application("MobileNetV2", alpha=0.35), 112, "tf", r"^block_(\d+)_", 8,
                 description="MobileNetV2 (alpha 0.35), 0.4M parameters: the smallest"),
    BackboneSpec("mobilenet", _application("MobileNet", alpha=1.0), 112, "tf", r"^conv_(?:dw|pw|pad)_(\d+)", 6,
                 description="MobileNet v1 (alpha 1.0), 3.2M parameters"),
    BackboneSpec("mobilenet_075", _application("MobileNet", alpha=0.75), 112, "tf", r"^conv_(?:dw|pw|pad)_(\d+)", 6,
                 description="MobileNet v1 (alpha 0.75), 1.8M parameters"),
    BackboneSpec("efficientnet_b0", _application("EfficientNetB0"), 112, "raw", r"^block(\d+[a-z])_", 6,
                 description="EfficientNetB0, 4.0M parameters (normalises inside)"),
    BackboneSpec("efficientnetv2_b0", _application("EfficientNetV2B0"), 112, "raw", r"^block(\d+[a-z])_", 8,
                 description="EfficientNetV2B0, 5.9M parameters (normalises inside)"),
    BackboneSpec("resnet50", _application("ResNet50"), 112, "caffe", r"^conv(\d+_block\d+)_", 4,
                 description="ResNet50, 23.6M parameters"),
    BackboneSpec("vgg16", _application("VGG16"), 112, "caffe", r"^block(\d+)_", 1,
                 description="VGG16, 14.7M parameters"),
    BackboneSpec("small_cnn", _plain_cnn("small_cnn", (32, 64, 128, 256)), 48, "unit", r"^block(\d+)_", 4,
                 pretrained=False,
                 description="a 4-block CNN trained from scratch on 48x48 faces (1.2M parameters): the bundled model"),
    BackboneSpec("small_cnn_top512", _plain_cnn("small_cnn_top512", (32, 64, 128, 512)), 48, "unit",
                 r"^block(\d+)_", 4, pretrained=False,
                 description="small_cnn with its last block twice as wide (3.2M parameters, 1.6x the compute), "
                             "grown from a trained small_cnn (tools/widen_model.py)"),
    BackboneSpec("wide_cnn", _plain_cnn("wide_cnn", (64, 128, 256, 512)), 48, "unit", r"^block(\d+)_", 4,
                 pretrained=False,
                 description="small_cnn at twice the width (4.7M parameters, 4x the compute): a teacher to "
                             "distil into small_cnn, trained on a GPU"),
)
BACKBONES: dict[str, BackboneSpec] = {spec.name: spec for spec in _SPECS}


def list_backbones() -> list[str]:
    return list(BACKBONES)


def get_backbone(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        close = difflib.get_close_matches(name, BACKBONES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown backbone {name!r}{hint} (available: {', '.join(BACKBONES)})")
    return BACKBONES[name]


def layer_blocks(model: keras.Model, pattern: str) -> list[list[keras.layers.Layer]]:
    """The model's layers grouped into blocks in network order.

    Layers before the first match form the stem (block 0); layers after a block that match no
    pattern (a final 1x1 conv, say) join the block before them.
    """
    regex = re.compile(pattern)
    blocks: list[list[keras.layers.Layer]] = [[]]
    current = None
    for layer in model.layers:
        match = regex.match(layer.name)
        if match and match.group(1) != current:
            current = match.group(1)
            blocks.append([])
        blocks[-1].append(layer)
    return [b for b in blocks if b]
