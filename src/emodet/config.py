"""The one place where training defaults live.

Settings resolve in this order: the defaults below < a ``--config`` YAML/JSON file <
``--set section.key=value`` overrides (or keyword arguments in Python). Unknown keys are
rejected with a did-you-mean suggestion, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

from emodet.errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    # Dataset source, e.g. "fer2013:PATH", "ferplus:FER_CSV,FERPLUS_CSV" or "folder:DIR".
    source: str = ""
    # FER+ only: train on the annotators' vote distribution instead of the majority label.
    soft_targets: bool = False
    # Folder sources without train/val/test subfolders: fractions held out, stratified by class.
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    # Use at most this many training / validation images (stratified, seeded); 0 means all.
    train_limit: int = 0
    val_limit: int = 0
    # fer2013 sources only: FER+'s fer2013new.csv, whose annotator votes are blended into the
    # TRAINING targets (validation and test keep FER2013's labels, so the protocol is unchanged).
    ferplus_votes: str = ""
    # Share of the FER+ vote distribution in a training target: (1 - b) * label + b * votes.
    ferplus_blend: float = 0.0
    # Folder sources: accept a class folder without images (refused by default).
    allow_empty_classes: bool = False
    # Further training sources beside `source` (emodet.data.mixture): FER2013 with RAF-DB's train/ and a
    # folder of your own in one run, each "KIND:PATH" or "NAME=KIND:PATH", classes matched to the first
    # source's by name. Each one's validation split is a validation set of its own, under its name.
    sources: tuple[str, ...] = ()
    # Each training source's share of an epoch, in order (`source` first, then `sources`): e.g. [0.6, 0.4].
    # Empty: every image once an epoch (shares in proportion to the sources' sizes).
    shares: tuple[float, ...] = ()
    # Validation-only sets, "NAME=KIND:PATH" (e.g. "ckplus=folder:PATH/ckplus48", split by subject): their
    # validation split is scored every epoch beside the training sources' (classes the model does not
    # predict are left out). The best epoch is chosen over all sets (emodet.evaluation.selection).
    validation: tuple[str, ...] = ()
    # Leave out the images of `sources` whose classes the first source lacks (refused by default).
    drop_unknown_classes: bool = False
    # Read the training split from disk batch by batch instead of holding it in memory, for data
    # larger than RAM (fer2013 and folder sources; emodet.data.stream). Validation stays in memory.
    stream: bool = False


@dataclass(frozen=True)
class ModelConfig:
    # Backbone name from the registry (`emodet info` lists them).
    backbone: str = "mobilenet_v2"
    # Square input side in pixels; 0 means the backbone's default.
    image_size: int = 0
    # "grayscale" converts every input to luma (FER2013 is grayscale), "rgb" keeps colour.
    color_mode: str = "grayscale"
    # "imagenet", "none" (random init), or a file to continue from (nothing is frozen then): a
    # .weights.h5 of the same architecture, or a saved .keras classifier of the same backbone and
    # classes (a run's best.keras, the bundled model), whose backbone and head weights are copied.
    weights: str = "imagenet"
    # Dropout rate before the classification layer.
    dropout: float = 0.3
    # Augmentation strength: 0 disables it, 1 is the standard recipe, up to 2 is stronger.
    augment: float = 1.0
    # Extra camera-style augmentation: Gaussian blur with sigma up to this many pixels (0: off).
    augment_blur: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 64
    # "adam", "adamw" or "sgd" (with momentum).
    optimizer: str = "adam"
    # Stage 1: train the new head on the frozen backbone.
    head_epochs: int = 5
    head_lr: float = 1e-3
    # Stage 2: unfreeze the upper blocks at a lower rate (10-100x below head_lr).
    finetune_epochs: int = 20
    finetune_lr: float = 1e-4
    # How many top backbone blocks stage 2 unfreezes; -1 means the backbone's default, 0 skips stage 2's unfreezing.
    unfreeze_blocks: int = -1
    # "cosine" decays the stage-2 rate to zero over its epochs; "constant" keeps it.
    lr_schedule: str = "cosine"
    label_smoothing: float = 0.1
    # Weight each sample by the inverse frequency of its class (helps rare classes like disgust).
    class_weights: bool = False
    # Exponent of those weights: 1 is scikit-learn's "balanced", 0.5 its square root (milder).
    class_weight_power: float = 1.0
    # "float32", or "mixed_bfloat16" (computes in bfloat16: about 25% faster on CPUs with BF16
    # instructions; the saved model is always float32).
    precision: str = "float32"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    # Stop a stage when validation accuracy has not improved for this many epochs.
    patience: int = 6
    # Wall-clock minutes stage 2 may take (0: no limit). With a budget the cosine schedule runs over
    # that time instead of over finetune_epochs (which stays the most it runs), and the stage ends
    # when another epoch would not fit: one recipe for machines whose speed is not known beforehand.
    time_budget: float = 0.0
    # Polyak averaging: keep an exponential moving average of the weights, updated every step with this
    # momentum, and validate, checkpoint and keep the average instead of the last step's weights (0: off).
    # It averages over about 1 / (1 - momentum) steps: 0.9995 is about 2,000 steps, three epochs of 40k faces.
    ema_momentum: float = 0.0
    # Mixup (Zhang et al. 2018): each training face is blended with another face of its batch, and so are
    # their targets, by a share drawn from Beta(mixup, mixup) per face; 0.2 is the usual value (0: off).
    # It regularises towards straight lines between classes, a prior that suits noisy labels like FER2013's.
    mixup: float = 0.0
    # Metric that selects the best checkpoint: "val_score" is the one rule over every validation set
    # (emodet.evaluation.selection: mean macro-F1 with a floor on the worst class recall); any logged
    # metric (val_accuracy, val_loss, val_<set>_macro_f1, ...) may be named instead.
    monitor: str = "val_score"
    seed: int = 42
    # Knowledge distillation (emodet.training.distill): comma-separated .keras teacher models whose
    # mean probabilities over the training images are blended into the training targets with this
    # share, (1 - b) * target + b * teacher.
    teachers: str = ""
    teacher_blend: float = 0.5
    # The views each teacher's probabilities are averaged over (emodet.inference.tta): "flip" (the
    # face and its mirror image), "crops" (ten crops) or "none". Older configs' true/false read as flip/none.
    teacher_tta: str = "flip"


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        """Plain nested dicts (lists for the list settings), as a YAML or JSON file holds them."""
        return {name: {key: list(value) if isinstance(value, tuple) else value for key, value in section.items()}
                for name, section in dataclasses.asdict(self).items()}

    def replace(self, **sections) -> RunConfig:
        """Return a copy with keys replaced, e.g. ``replace(train={"batch_size": 32})``."""
        return from_dict(_deep_merge(self.to_dict(), sections))


def from_dict(data: dict) -> RunConfig:
    """Build a :class:`RunConfig` from nested dicts, rejecting unknown sections and keys."""
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping of sections, got {type(data).__name__}")
    built = {}
    for name, values in data.items():
        _check_known(name, _SECTION_TYPES, "config section")
        cls = _SECTION_TYPES[name]
        if not isinstance(values, dict):
            raise ConfigError(f"config section {name!r} must be a mapping, got {values!r}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        values = _upgraded(name, values)
        for key in values:
            _check_known(key, known, f"key in section {name!r}")
        built[name] = cls(**{k: _coerce(v, str(known[k].type), f"{name}.{k}") for k, v in values.items()})
    config = RunConfig(**built)
    validate(config)
    return config


def _upgraded(section: str, values: dict) -> dict:
    """Read the keys whose type or name has changed, so older runs' configs still load and resume:
    ``train.teacher_tta`` was a boolean (true: flip); ``data.extra_source`` (one further training
    source) is now the first of ``data.sources``, and ``data.extra_drop_unknown`` is ``drop_unknown_classes``."""
    values = dict(values)
    tta = values.get("teacher_tta") if section == "train" else None
    if isinstance(tta, bool):
        values["teacher_tta"] = "flip" if tta else "none"
    if section == "data":
        extra = values.pop("extra_source", "")
        if extra:
            values["sources"] = [extra, *_as_list(values.get("sources", []))]
        if "extra_drop_unknown" in values:
            values["drop_unknown_classes"] = values.pop("extra_drop_unknown")
    return values


def _as_list(value) -> list:
    if value in (None, "", "none"):
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def load_config(path: str | Path | None = None, overrides: typing.Iterable[str] = ()) -> RunConfig:
    """Resolve defaults < file at ``path`` (YAML or JSON) < ``section.key=value`` overrides."""
    data: dict = {}
    if path is not None:
        data = read_config_file(path)
    for item in overrides:
        key, value = _parse_override(item)
        section, _, name = key.partition(".")
        data.setdefault(section, {})[name] = value
    return from_dict(data)


def read_config_file(path: str | Path) -> dict:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass an existing YAML or JSON file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections (data, model, train)")
    return data


def save_config(config: RunConfig, path: str | Path) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))


def validate(config: RunConfig) -> None:
    """Check values whose type is right but whose meaning is not."""
    m, t, d = config.model, config.train, config.data
    _check_choice("model.color_mode", m.color_mode, ("grayscale", "rgb"))
    _check_choice("train.optimizer", t.optimizer, ("adam", "adamw", "sgd"))
    _check_choice("train.lr_schedule", t.lr_schedule, ("cosine", "constant"))
    _check_choice("train.precision", t.precision, PRECISIONS)
    from emodet.inference.tta import TTA_MODES

    _check_choice("train.teacher_tta", t.teacher_tta, ("none", *TTA_MODES))
    for name, value, low, high in (
        ("model.dropout", m.dropout, 0.0, 0.95),
        ("model.augment", m.augment, 0.0, 2.0),
        ("train.label_smoothing", t.label_smoothing, 0.0, 0.5),
        ("data.val_fraction", d.val_fraction, 0.0, 0.5),
        ("data.test_fraction", d.test_fraction, 0.0, 0.5),
        ("data.ferplus_blend", d.ferplus_blend, 0.0, 1.0),
        ("model.augment_blur", m.augment_blur, 0.0, 3.0),
        ("train.class_weight_power", t.class_weight_power, 0.0, 1.0),
        ("train.teacher_blend", t.teacher_blend, 0.0, 1.0),
        ("train.ema_momentum", t.ema_momentum, 0.0, 0.99999),
        ("train.mixup", t.mixup, 0.0, 1.0),
    ):
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    for name, value in (("train.batch_size", t.batch_size), ("train.head_lr", t.head_lr),
                        ("train.finetune_lr", t.finetune_lr)):
        if value <= 0:
            raise ConfigError(f"{name} must be positive, got {value}")
    for name, value in (("train.head_epochs", t.head_epochs), ("train.finetune_epochs", t.finetune_epochs),
                        ("model.image_size", m.image_size), ("data.train_limit", d.train_limit),
                        ("data.val_limit", d.val_limit), ("train.time_budget", t.time_budget)):
        if value < 0:
            raise ConfigError(f"{name} must be zero or positive, got {value}")
    if d.ferplus_blend > 0 and not d.ferplus_votes:
        raise ConfigError(f"data.ferplus_blend is {d.ferplus_blend} but data.ferplus_votes names no file; "
                          "set data.ferplus_votes=PATH/fer2013new.csv or data.ferplus_blend=0")
    if t.teachers and t.teacher_blend == 0:
        raise ConfigError("train.teachers names teacher models but train.teacher_blend is 0, so they would not be "
                          "used; set train.teacher_blend above 0 (e.g. 0.5) or leave train.teachers empty")
    if d.shares and len(d.shares) != 1 + len(d.sources):
        raise ConfigError(f"data.shares gives {len(d.shares)} share(s) for {1 + len(d.sources)} training source(s) "
                          "(data.source, then each of data.sources); give one each, or none to draw in proportion "
                          "to their sizes")
    if any(share <= 0 for share in d.shares):
        raise ConfigError(f"data.shares must all be positive, got {list(d.shares)}")
    if t.mixup > 0 and d.stream:
        raise ConfigError(f"train.mixup ({t.mixup}) blends faces of in-memory batches and data.stream reads them from "
                          "disk; set train.mixup=0 to stream, or data.stream=false if the data fit in memory")
    if 0 < m.image_size < 32:
        raise ConfigError(f"model.image_size must be at least 32 pixels (or 0 for the default), got {m.image_size}")


PRECISIONS = ("float32", "mixed_bfloat16")
# Data-parallel training (emodet.training.distribute): the kinds of distribution, learning-rate rules.
DISTRIBUTIONS = ("none", "auto", "mirrored", "multi-worker", "data-parallel")
LR_SCALING = ("linear", "none")
#: ``emodet retrain``'s share of the starting model in the saved weights (WiSE-FT, ``--keep-parent``): in
#: docs/UPKEEP.md's scenario, at two learning rates, 0.3 kept more of the new data's gain and all of the old
#: data, where the chosen epoch alone forgot some.
RETRAIN_KEEP_PARENT = 0.3
#: ``emodet retrain``'s share of replayed old data in the training mix (``--replay-share``): in docs/UPKEEP.md's
#: comparison, half replay learned the new faces slightly better but lost FER2013; 0.8 kept it.
RETRAIN_REPLAY_SHARE = 0.8
_SECTION_TYPES = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def _deep_merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check_known(key: str, known, what: str) -> None:
    if key not in known:
        close = difflib.get_close_matches(str(key), list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown {what} {key!r}{hint} (known: {', '.join(known)})")


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _parse_override(item: str) -> tuple[str, object]:
    import yaml

    key, sep, raw = item.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"--set expects section.key=value (e.g. train.batch_size=32), got {item!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _coerce(value, type_name: str, name: str):
    """Convert ``value`` to a field's declared type, named as the dataclass spells it (ints accepted
    for floats, a single value or a ``;``-separated string for a list, etc.)."""
    item_type = {"tuple[str, ...]": "str", "tuple[float, ...]": "float"}.get(type_name)
    if item_type is not None:
        items = value.split(";") if isinstance(value, str) else _as_list(value)
        return tuple(_coerce(v.strip() if isinstance(v, str) else v, item_type, f"{name}[{k}]")
                     for k, v in enumerate(items) if not (isinstance(v, str) and not v.strip()))
    kind = {"int": int, "float": float, "bool": bool, "str": str}.get(type_name, None)
    if kind is None:  # pragma: no cover - every field above has a plain type
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if kind is str:
        if value is None:
            return "none"
        return str(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    try:
        number = kind(float(value)) if kind is float else int(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None
    return number


def dumps(config: RunConfig) -> str:
    """Stable JSON text of a config, used to compare runs (resume) and to hash them."""
    return json.dumps(config.to_dict(), sort_keys=True)

