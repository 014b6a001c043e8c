"""Naming a dataset in one string, and its splits.

``fer2013:PATH``                      Kaggle's fer2013.csv (or .csv.gz): 7 classes
``ferplus:FER2013_CSV,FERPLUS_CSV``   FER2013 pixels with FER+ votes: 8 classes
``folder:DIR``                        class subfolders of images
``shards:DIR``                        shards written by ``emodet shard``

Split names are ``train``, ``val`` and ``test``; FER2013's own names (Training, PublicTest,
PrivateTest) are accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass

from emodet.errors import ConfigError

KINDS = ("fer2013", "ferplus", "folder", "shards")
SPLIT_ALIASES = {"training": "train", "publictest": "val", "privatetest": "test",
                 "train": "train", "val": "val", "validation": "val", "test": "test"}


@dataclass(frozen=True)
class DataSource:
    kind: str
    paths: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.kind}:{','.join(self.paths)}"


def parse_source(spec: str) -> DataSource:
    """Parse ``KIND:PATH[,PATH]``, or raise a :class:`ConfigError` showing the accepted forms."""
    kind, sep, rest = (spec or "").partition(":")
    paths = tuple(p.strip() for p in rest.split(",") if p.strip())
    expected = {"fer2013": 1, "ferplus": 2, "folder": 1, "shards": 1}
    if not sep or kind not in expected or len(paths) != expected[kind]:
        raise ConfigError(
            f"data source {spec!r} is not understood; use fer2013:PATH_TO_fer2013.csv, "
            "ferplus:PATH_TO_fer2013.csv,PATH_TO_fer2013new.csv, folder:DIR_OF_CLASS_FOLDERS or "
            "shards:DIR (written by emodet shard)"
        )
    return DataSource(kind, paths)


def split_name(name: str) -> str:
    """The canonical split name for ``name`` (case-insensitive; FER2013's usages accepted)."""
    key = str(name).replace("_", "").replace("-", "").lower()
    if key not in SPLIT_ALIASES:
        raise ConfigError(f"unknown split {name!r}; use train, val or test "
                          "(or FER2013's Training, PublicTest, PrivateTest)")
    return SPLIT_ALIASES[key]
