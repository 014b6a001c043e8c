"""The canonical emotion label sets and how each dataset's columns map onto them.

Every other module takes class names from here, so one spelling exists per emotion.
"""

from __future__ import annotations

#: FER2013's seven classes, in the order of its ``emotion`` column (0..6).
FER7: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: FER+'s eight emotion classes, in the order of its vote columns.
FERPLUS8: tuple[str, ...] = (
    "neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt",
)

#: FER+ vote columns (``fer2013new.csv``) in file order: the eight emotions, then the two
#: columns that mark a row as unusable when they win the vote.
FERPLUS_VOTE_COLUMNS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
    "unknown", "NF",
)


#: One RGB colour per emotion name, so that an emotion has the same colour in annotated images,
#: detection reports and the live page.
EMOTION_COLORS: dict[str, tuple[int, int, int]] = {
    "angry": (230, 57, 70), "disgust": (106, 153, 78), "fear": (155, 89, 182), "happy": (255, 195, 0),
    "sad": (52, 119, 219), "surprise": (255, 127, 80), "neutral": (200, 200, 200), "contempt": (139, 90, 43),
}
#: The colour of a class that has none above (a custom label set).
OTHER_COLOR: tuple[int, int, int] = (0, 200, 0)


def class_rgb(name: str) -> tuple[int, int, int]:
    """An emotion's colour as RGB, 0-255 (the OTHER_COLOR for a class without its own)."""
    return EMOTION_COLORS.get(name, OTHER_COLOR)


def class_color(name: str) -> str:
    """An emotion's colour as ``#rrggbb`` (for web pages)."""
    return "#{:02x}{:02x}{:02x}".format(*class_rgb(name))


#: Other datasets' spellings of each emotion, by emodet's name for it. Every place that combines a
#: model with labelled data matches classes through :func:`canonical_label`, never by position.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "angry": ("anger", "angry", "mad"),
    "disgust": ("disgust", "disgusted", "disgusting"),
    "fear": ("fear", "fearful", "afraid", "scared"),
    "happy": ("happy", "happiness", "joy", "smile"),
    "sad": ("sad", "sadness", "sorrow"),
    "surprise": ("surprise", "surprised"),
    "neutral": ("neutral", "calm", "none"),
    "contempt": ("contempt", "contemptuous"),
}
_CANONICAL = {alias: name for name, aliases in SYNONYMS.items() for alias in (name, *aliases)}


def canonical_label(name: str) -> str:
    """emodet's name for a dataset's class name (``"Anger"`` -> ``"angry"``); unknown names are
    returned lower-cased and stripped, so they still compare equal to themselves."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return _CANONICAL.get(key, key)


def check_class_names(names) -> tuple[str, ...]:
    """Return ``names`` as a tuple after checking it is a non-empty list of distinct strings."""
    from emodet.errors import ConfigError

    names = tuple(names)
    if len(names) < 2 or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(
            f"class names must be at least two non-empty strings, got {list(names)!r}"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"class names must be distinct, got {list(names)!r}")
    return names
