"""The emotion classifier: input contract + augmentation + normalisation + backbone + head.

A built model is a plain Keras functional model whose layers are, in order, ``face_input``
(:class:`FaceInput`), optionally ``augmentation``, ``normalization``, ``backbone`` (a nested
model) and ``emotion_head`` (:class:`EmotionHead`). It takes RGB uint8 images of any size
and returns class probabilities; :func:`describe` reads its contract back from a loaded model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras

from emodet.config import ModelConfig
from emodet.errors import ConfigError, ModelError
from emodet.labels import check_class_names
from emodet.models.augmentation import build_augmentation
from emodet.models.backbones import get_backbone, layer_blocks
from emodet.models.layers import BackboneNormalization, EmotionHead, FaceInput

MODEL_PREFIX = "emodet_"


@dataclass(frozen=True)
class ModelContract:
    """What inference needs to know about a model, read from the model itself."""

    class_names: tuple[str, ...]
    image_size: int  # the network's own input side (faces are resized to it inside the model)
    color_mode: str
    backbone: str
    # The side at which inference should hand faces to the model: the resolution of its training
    # faces when known (see FaceInput), else ``image_size``. Crops and exported inputs use it.
    crop_size: int = 0

    def __post_init__(self):
        if not self.crop_size:
            object.__setattr__(self, "crop_size", self.image_size)


def build_model(backbone: str = "mobilenet_v2", classes=None, *, image_size: int = 0,
                color_mode: str = "grayscale", weights: str | None = "imagenet", dropout: float = 0.3,
                augment: float = 1.0, augment_blur: float = 0.0, seed: int | None = None,
                source_size: int = 0) -> keras.Model:
    """Build an ImageNet-initialised (``weights="imagenet"``) classifier for ``classes``.

    The backbone starts frozen when it is pretrained; :func:`unfreeze_top_blocks` opens it for
    fine-tuning. ``weights`` may also be ``None``/``"none"`` (random init), a ``.weights.h5`` file of this
    architecture, or a saved ``.keras`` classifier of the same backbone and classes to continue from.
    """
    from emodet.labels import FER7

    spec = get_backbone(backbone)
    class_names = check_class_names(FER7 if classes is None else classes)
    size = int(image_size) or spec.input_size
    weights = None if weights in (None, "none", "") else weights
    if weights is not None and not spec.pretrained and weights == "imagenet":
        raise ConfigError(f"backbone {backbone!r} has no ImageNet weights; set model.weights=none")
    imagenet = weights == "imagenet"
    base = _build_backbone(spec, size, "imagenet" if imagenet else None)
    base.trainable = not imagenet

    inputs = keras.Input((None, None, 3), dtype="uint8", name="image")
    x = FaceInput(size, color_mode, source_size=source_size, name="face_input")(inputs)
    augmentation = build_augmentation(augment, seed, blur=augment_blur)
    if augmentation is not None:
        x = augmentation(x)
    x = BackboneNormalization(spec.normalization, name="normalization")(x)
    x = base(x, training=False) if imagenet else base(x)
    outputs = EmotionHead(class_names, dropout, name="emotion_head")(x)
    model = keras.Model(inputs, outputs, name=MODEL_PREFIX + spec.name)
    if weights not in (None, "imagenet"):
        _load_weights_file(model, weights)
    return model


def build_from_config(config: ModelConfig, class_names, seed: int | None = None, source_size: int = 0) -> keras.Model:
    """The model ``config`` describes; ``source_size`` is the side of the training images (FaceInput)."""
    return build_model(config.backbone, class_names, image_size=config.image_size, color_mode=config.color_mode,
                       weights=config.weights, dropout=config.dropout, augment=config.augment,
                       augment_blur=config.augment_blur, seed=seed, source_size=source_size)


def describe(model: keras.Model) -> ModelContract:
    """The contract a model carries: class names, input size, colour mode and backbone.

    For an ensemble (:mod:`emodet.models.members`): the members' classes, the largest member
    input and crop sizes (each member resizes to its own), ``"rgb"`` if any member uses colour,
    and the backbones joined by ``+``.
    """
    from emodet.models.members import MEMBER_SUFFIX, ensemble_members

    members = ensemble_members(model)
    if members:
        contracts = [describe(member) for member in members]
        modes = {c.color_mode for c in contracts}
        return ModelContract(contracts[0].class_names, max(c.image_size for c in contracts),
                             modes.pop() if len(modes) == 1 else "rgb", "+".join(c.backbone for c in contracts),
                             crop_size=max(c.crop_size for c in contracts))
    try:
        face_input = model.get_layer("face_input")
        head = model.get_layer("emotion_head")
    except ValueError:
        raise ModelError(f"model {model.name!r} is not an emodet classifier (it lacks the face_input "
                         "and emotion_head layers); build it with emodet.build_model") from None
    backbone = model.name[len(MODEL_PREFIX):] if model.name.startswith(MODEL_PREFIX) else model.name
    backbone = backbone.split(MEMBER_SUFFIX)[0]
    source = getattr(face_input, "source_size", 0)
    crop = min(source, face_input.image_size) if source else face_input.image_size
    return ModelContract(tuple(head.class_names), face_input.image_size, face_input.color_mode, backbone, crop)


def inference_model(model: keras.Model, image_size: int | None = None, name: str | None = None) -> keras.Model:
    """The same classifier without its training-only parts (augmentation, active dropout).

    Layers and weights are shared with ``model``. ``image_size`` fixes the input's height and
    width (exporters need static shapes); by default any size is accepted. ``name`` names the
    returned model (default ``emodet_<backbone>``).
    """
    from emodet.models.members import ensemble_members, fixed_size_ensemble

    if ensemble_members(model):
        return fixed_size_ensemble(model, image_size) if image_size else model
    contract = describe(model)
    inputs = keras.Input((image_size, image_size, 3), dtype="uint8", name="image")
    x = model.get_layer("face_input")(inputs)
    x = model.get_layer("normalization")(x)
    x = model.get_layer("backbone")(x, training=False)
    outputs = model.get_layer("emotion_head")(x, training=False)
    return keras.Model(inputs, outputs, name=name or MODEL_PREFIX + contract.backbone)


def unfreeze_top_blocks(model: keras.Model, blocks: int) -> int:
    """Make the top ``blocks`` backbone blocks trainable, keeping BatchNorm frozen.

    Frozen BatchNorm layers run in inference mode in Keras 3, so their ImageNet statistics are
    not disturbed by small fine-tuning batches. Returns the number of trainable weights opened.
    """
    contract = describe(model)
    spec = get_backbone(contract.backbone)
    base = model.get_layer("backbone")
    groups = layer_blocks(base, spec.block_pattern)
    base.trainable = True
    opened = 0
    for i, group in enumerate(groups):
        in_top = blocks < 0 or i >= len(groups) - blocks
        for layer in group:
            layer.trainable = in_top and not isinstance(layer, keras.layers.BatchNormalization)
            opened += len(layer.trainable_weights)
    return opened


def count_blocks(model: keras.Model) -> int:
    spec = get_backbone(describe(model).backbone)
    return len(layer_blocks(model.get_layer("backbone"), spec.block_pattern))


def load_model(path: str | Path, compile: bool = False) -> keras.Model:
    """Load a ``.keras`` emodet model, with an error naming the file if that is impossible."""
    import zipfile

    import emodet.models.layers  # noqa: F401  (registers the serialisable layers)

    path = Path(path).expanduser()
    if path.is_symlink() and not path.exists():
        raise ModelError(f"model file {path} is a broken symbolic link; point it at a .keras file")
    if path.is_dir():
        best = path / "best.keras"
        hint = f"; did you mean its {best}?" if best.is_file() else ""
        raise ModelError(f"model {path} is a directory, not a model file; pass the .keras file itself (a run "
                         f"directory holds best.keras){hint}")
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist; pass a .keras file written by emodet train")
    if path.suffix != ".keras":
        raise ModelError(f"model file {path} is not a .keras file; emodet trains and loads Keras 3 .keras models "
                         "(exported .onnx/.tflite files are for the detector's runtimes)")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"model file {path} is not a valid Keras file (a .keras model is a zip archive; this one "
                         "is truncated or something else); copy it again or retrain")
    try:
        model = keras.saving.load_model(path, compile=compile)
    except Exception as exc:  # Keras raises many types for damaged archives
        raise ModelError(f"cannot load model {path}: {exc}") from None
    describe(model)
    return model


def _build_backbone(spec, size: int, weights: str | None) -> keras.Model:
    base = spec.build((size, size, 3), weights)
    # A stable name lets every model be navigated the same way, whatever its architecture.
    return keras.Model(base.input, base.output, name="backbone")


def _load_weights_file(model: keras.Model, path: str) -> None:
    if not Path(path).is_file():
        raise ConfigError(f"model.weights {path!r} is neither 'imagenet', 'none' nor an existing weights file")
    if Path(path).suffix == ".keras":
        _copy_trained_weights(load_model(path), model, path)
        return
    try:
        model.load_weights(path)
    except Exception as exc:
        raise ConfigError(f"cannot load weights from {path} into a {model.name} model: {exc}") from None


def _copy_trained_weights(source: keras.Model, model: keras.Model, path: str) -> None:
    """Start ``model`` from the backbone and head of a saved classifier (a run's best.keras, the
    bundled model), whose training-only layers (augmentation) may differ from ``model``'s."""
    found, wanted = describe(source), describe(model)
    if (found.backbone, found.class_names) != (wanted.backbone, wanted.class_names):
        raise ConfigError(f"model.weights {path} is a {found.backbone} model over {list(found.class_names)}; "
                          f"this run builds a {wanted.backbone} model over {list(wanted.class_names)}: "
                          "continue from a model of the same backbone and classes")
    for name in ("backbone", "emotion_head"):
        try:
            model.get_layer(name).set_weights(source.get_layer(name).get_weights())
        except ValueError as exc:
            raise ConfigError(f"cannot continue from {path}: its {name} does not match this run's "
                              f"(same backbone, different settings?): {exc}") from None
