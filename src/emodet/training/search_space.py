"""What ``emodet tune`` searches: the default search space, and reading one from a file.

A space maps config keys (``section.key``, as in ``--set``) to a distribution:

```yaml
train.head_lr: {type: float, min: 1.0e-4, max: 1.0e-2, sampling: log}
train.batch_size: {type: choice, values: [32, 64, 128]}
train.unfreeze_blocks: {type: int, min: 0, max: 12, step: 2}
model.backbone: {type: choice, values: [mobilenet_v2, efficientnet_b0]}   # optional
```

A file given with ``--space`` is merged over the defaults; an entry set to ``null`` removes a key
from the search (it then keeps its value from the config).
"""

from __future__ import annotations

import dataclasses

from emodet.config import DataConfig, ModelConfig, TrainConfig, read_config_file
from emodet.errors import ConfigError

DEFAULT_SPACE: dict[str, dict] = {
    "train.head_lr": {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"},
    "train.finetune_lr": {"type": "float", "min": 1e-5, "max": 1e-3, "sampling": "log"},
    "train.batch_size": {"type": "choice", "values": [32, 64, 128]},
    "train.optimizer": {"type": "choice", "values": ["adam", "adamw", "sgd"]},
    "model.dropout": {"type": "float", "min": 0.0, "max": 0.5, "step": 0.1},
    "train.label_smoothing": {"type": "choice", "values": [0.0, 0.05, 0.1, 0.2]},
    "model.augment": {"type": "float", "min": 0.0, "max": 1.5, "step": 0.25},
    "train.unfreeze_blocks": {"type": "int", "min": 0, "max": 12, "step": 2},
}

_TYPES = {"float": ("min", "max"), "int": ("min", "max"), "choice": ("values",)}
_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def load_space(path=None) -> dict[str, dict]:
    """The default space, with the entries of the YAML/JSON file at ``path`` merged over it."""
    space = dict(DEFAULT_SPACE)
    if path is not None:
        for key, entry in read_config_file(path).items():
            if entry is None:
                space.pop(key, None)
            else:
                space[key] = entry
    for key, entry in space.items():
        check_entry(key, entry)
    if not space:
        raise ConfigError("the search space is empty; give at least one setting to search")
    return space


def check_entry(key: str, entry: dict) -> None:
    section, _, name = str(key).partition(".")
    fields = {f.name for f in dataclasses.fields(_SECTIONS[section])} if section in _SECTIONS else set()
    if name not in fields:
        raise ConfigError(f"search space key {key!r} is not a setting; use section.key as in --set "
                          "(e.g. train.head_lr, model.dropout)")
    if not isinstance(entry, dict) or entry.get("type") not in _TYPES:
        raise ConfigError(f"search space entry {key!r} must be a mapping with type float, int or choice; got {entry!r}")
    missing = [field for field in _TYPES[entry["type"]] if field not in entry]
    if missing:
        raise ConfigError(f"search space entry {key!r} of type {entry['type']} needs {', '.join(missing)}")
    if entry["type"] != "choice" and not entry["min"] < entry["max"]:
        raise ConfigError(f"search space entry {key!r} needs min < max, got {entry['min']} and {entry['max']}")


def declare(hp, key: str, entry: dict):
    """Declare ``key`` on a KerasTuner ``HyperParameters`` object and return its value for this trial."""
    if entry["type"] == "choice":
        return hp.Choice(key, list(entry["values"]))
    if entry["type"] == "int":
        return hp.Int(key, int(entry["min"]), int(entry["max"]), step=int(entry.get("step", 1)))
    return hp.Float(key, float(entry["min"]), float(entry["max"]), step=entry.get("step"),
                    sampling=entry.get("sampling", "linear"))
