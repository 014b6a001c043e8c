"""Backbone registry, the emotion classifier (build, describe, fine-tune boundary) and save/load."""

from emodet.models.backbones import BACKBONES, BackboneSpec, get_backbone, list_backbones
from emodet.models.classifier import (
    ModelContract,
    build_from_config,
    build_model,
    describe,
    load_model,
    unfreeze_top_blocks,
)

__all__ = [
    "BACKBONES", "BackboneSpec", "ModelContract", "build_from_config", "build_model", "describe",
    "get_backbone", "list_backbones", "load_model", "unfreeze_top_blocks",
]
