"""``models:/NAME@ALIAS`` and ``models:/NAME/VERSION``: naming a registered model where a path goes.

Parsing needs no MLflow; :func:`emodet.inference.loading.load_classifier` opens the registry only
for a reference, so a plain model path never imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from emodet.errors import ConfigError

PREFIX = "models:/"
_PATTERN = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[A-Za-z0-9_\-]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ModelReference:
    name: str
    alias: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return f"{PREFIX}{self.name}@{self.alias}" if self.alias else f"{PREFIX}{self.name}/{self.version}"


def is_reference(model) -> bool:
    """True for a string naming a registered model (``models:/...``)."""
    return isinstance(model, str) and model.startswith(PREFIX)


def parse_reference(text: str) -> ModelReference:
    """The name and alias or version of ``models:/NAME@ALIAS`` / ``models:/NAME/VERSION``."""
    match = _PATTERN.match(text.strip())
    if not match:
        raise ConfigError(f"{text!r} is not a registry model reference; use models:/NAME@ALIAS "
                          "(e.g. models:/emodet@champion) or models:/NAME/VERSION (e.g. models:/emodet/3)")
    return ModelReference(match["name"], match["alias"], match["version"])
