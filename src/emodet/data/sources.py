"""Naming a dataset in one string, and loading its train / val / test splits.

``fer2013:PATH``                      Kaggle's fer2013.csv (or .csv.gz): 7 classes
``ferplus:FER2013_CSV,FERPLUS_CSV``   FER2013 pixels with FER+ votes: 8 classes
``folder:DIR``                        class subfolders of images

Split names are ``train``, ``val`` and ``test``; FER2013's own names (Training, PublicTest,
PrivateTest) are accepted too. Validation and test splits carry ``in_train``, marking images
whose pixels also occur in the training split.
"""

from __future__ import annotations

from dataclasses import dataclass

from emodet.data import fer2013, ferplus, folder
from emodet.data.images import LabelledImages, mark_training_duplicates, require_images
from emodet.errors import ConfigError, DataError

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


def load_splits(spec: str | DataSource, *, image_size: int = 96, soft_targets: bool = False,
                val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 42,
                ferplus_votes: str = "", ferplus_blend: float = 0.0,
                allow_empty_classes: bool = False, face_crop=None) -> dict[str, LabelledImages]:
    """All splits of a source. ``image_size`` only applies to folders (FER2013 stays 48x48).

    ``ferplus_blend`` > 0 (fer2013 sources) blends FER+'s votes from ``ferplus_votes`` into the
    training targets only (:func:`emodet.data.ferplus.blend_votes`). ``face_crop`` (folders of
    photos) finds the face in each image (:func:`emodet.data.folder.load_folder`).
    """
    source = parse_source(spec) if isinstance(spec, str) else spec
    if soft_targets and source.kind != "ferplus":
        raise ConfigError(f"soft targets need FER+ vote data (ferplus:...), but the source is {source}")
    if face_crop is not None and source.kind != "folder":
        raise ConfigError(f"finding faces in photos (--faces detect) needs a folder of photos, but the source is "
                          f"{source}, which holds face crops already")
    if ferplus_blend > 0 and source.kind != "fer2013":
        raise ConfigError(f"data.ferplus_blend blends FER+ votes into FER2013's labels, but the source is "
                          f"{source}; use a fer2013:PATH source or set data.ferplus_blend=0")
    if source.kind == "fer2013":
        table = fer2013.read_fer2013(source.paths[0])
        splits = {name: table.split(name) for name in fer2013.SPLITS}
        if ferplus_blend > 0:
            splits["train"] = ferplus.blend_votes(splits["train"], table, ferplus_votes, ferplus_blend)
    elif source.kind == "ferplus":
        table = fer2013.read_fer2013(source.paths[0])
        splits = ferplus.join(table, source.paths[1], soft=soft_targets)
    elif source.kind == "shards":
        from emodet.data.stream import stream_splits

        splits = {name: split.load() for name, split in stream_splits(str(source), image_size=image_size).items()}
    else:
        splits = folder.load_folder(source.paths[0], image_size, val_fraction, test_fraction, seed,
                                    allow_empty_classes, face_crop)
    if "train" not in splits:
        raise DataError(f"{source} has no training split")
    train = require_images(splits["train"], str(source))
    return {name: split if name == "train" else mark_training_duplicates(split, train)
            for name, split in splits.items()}


def load_split(spec: str | DataSource, name: str, **kwargs) -> LabelledImages:
    """One split by name (see :func:`split_name`), with a clear error if the source lacks it."""
    wanted = split_name(name)
    splits = load_splits(spec, **kwargs)
    if wanted not in splits:
        raise DataError(f"{spec} has no {wanted!r} split; it has {', '.join(splits)}")
    return require_images(splits[wanted], str(spec))
