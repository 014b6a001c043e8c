"""The package's exception types.

Errors caused by what a user passed in (a file, a setting, an argument) subclass ``ValueError``
through :class:`EmodetError`, so callers can catch them apart from bugs. Each message says what
was received, what was expected and how to fix it; the CLI prints it without a traceback.
"""

from __future__ import annotations


class EmodetError(ValueError):
    """A problem with something the user supplied."""


class DataError(EmodetError):
    """A dataset file or folder is missing, malformed or empty."""


class ConfigError(EmodetError):
    """A setting, argument or config file is invalid."""


class ModelError(EmodetError):
    """A model file cannot be used (missing, unreadable, or not an emodet model)."""


class MediaError(EmodetError):
    """An image, video or stream cannot be read."""


class RegistryError(EmodetError):
    """The model registry cannot be reached or used, or refuses the operation."""
