"""Loading a dataset's train / val / test splits from the one string that names it
(:mod:`emodet.data.naming`). Validation and test splits carry ``in_train``, marking images whose
pixels also occur in the training split.
"""

from __future__ import annotations

from emodet.data import fer2013, ferplus, folder
from emodet.data.images import LabelledImages, mark_training_duplicates, require_images
from emodet.data.naming import DataSource, parse_source, split_name
from emodet.errors import ConfigError, DataError

__all__ = ["DataSource", "load_split", "load_splits", "parse_source", "split_name"]

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
