"""A directory of class subfolders (``DIR/happy/*.jpg``, ``DIR/sad/*.png``, ...).

Either ``DIR/{train,val,test}/<class>/...`` with the splits given (without ``val/``, a stratified,
seeded ``val_fraction`` of ``train/`` is held out, as RAF-DB's official split asks), or ``DIR/<class>/...`` split
here, seeded: by subject when ``DIR/labels.csv`` has ``path`` and ``subject`` columns (as CK+48
does: the same person in two splits would inflate every score), else stratified by class. Images
of any size and colour mode are decoded to RGB and resized to a square of ``image_size`` pixels
(the folder is expected to hold face crops).
Unreadable files are skipped and listed in the result's ``skipped``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from emodet.data.images import LabelledImages, one_hot
from emodet.errors import DataError, MediaError
from emodet.imageio import read_image

SPLIT_DIRS = ("train", "val", "test")


def load_folder(root: str | Path, image_size: int, val_fraction: float, test_fraction: float,
                seed: int, allow_empty_classes: bool = False, face_crop=None) -> dict[str, LabelledImages]:
    """The splits of a class-folder dataset; a class folder without images in the training part is
    refused (a model cannot learn a class it never sees) unless ``allow_empty_classes``.

    ``face_crop`` (photo folders): a callable turning a decoded RGB photo into a face crop of
    ``image_size``, or ``None`` when it finds no face (the photo is then listed in ``skipped``);
    by default every image is taken to be a face crop and resized.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset folder {root} does not exist or is not a directory; expected "
                        "DIR/<class name>/<images> or DIR/train|val|test/<class name>/<images>")
    if (root / "train").is_dir():
        class_names = class_folders(root / "train")
        splits = {name: _load_split(root / name, class_names, image_size, name, face_crop)
                  for name in SPLIT_DIRS if (root / name).is_dir()}
        _check_classes_present(splits["train"], root / "train", allow_empty_classes)
        if "val" not in splits and val_fraction > 0:  # train/ and test/ only (RAF-DB): carve val from train/
            carved = stratified_split(splits["train"], val_fraction, 0.0, seed)
            splits.update(train=carved["train"], val=carved["val"])
        return splits
    whole = _load_split(root, class_folders(root), image_size, "all", face_crop)
    _check_classes_present(whole, root, allow_empty_classes)
    subjects = subject_column(root, whole)
    if subjects is not None:
        return subject_split(whole, subjects, val_fraction, test_fraction, seed)
    return stratified_split(whole, val_fraction, test_fraction, seed)


def subject_split(data: LabelledImages, subjects: np.ndarray, val_fraction: float, test_fraction: float,
                  seed: int) -> dict[str, LabelledImages]:
    """Split so that each subject's images all fall in one split (seeded order of subjects; each
    split gets whole subjects until it holds its fraction of the images)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(np.unique(subjects))
    sizes = {subject: int(np.sum(subjects == subject)) for subject in order}
    assigned, filled = {}, {"test": 0, "val": 0}
    for subject in order:
        for name, fraction in (("test", test_fraction), ("val", val_fraction)):
            if filled[name] < fraction * len(data):
                assigned[subject] = name
                filled[name] += sizes[subject]
                break
        else:
            assigned[subject] = "train"
    split_of = np.array([assigned[subject] for subject in subjects])
    return {name: data.take(np.flatnonzero(split_of == name), name=name)
            for name in SPLIT_DIRS if np.any(split_of == name)}


def subject_column(root: Path, data: LabelledImages) -> np.ndarray | None:
    """Each image's subject from ``root/labels.csv`` (columns ``path``, ``subject``), or ``None``."""
    import csv

    table = root / "labels.csv"
    if not table.is_file():
        return None
    with open(table, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not {"path", "subject"} <= set(reader.fieldnames or ()):
            return None
        by_path = {str((root / row["path"]).resolve()): row["subject"] for row in reader}
    subjects = [by_path.get(str(Path(i).resolve())) for i in data.ids]
    missing = [str(i) for i, s in zip(data.ids, subjects) if s is None]
    if missing:
        raise DataError(f"{table} names subjects, but not for {len(missing)} image(s), e.g. {missing[0]}; "
                        "list every image (path relative to the folder) or remove the subject column")
    return np.asarray(subjects)


def _check_classes_present(data: LabelledImages, root: Path, allow_empty: bool) -> None:
    empty = [name for name, count in data.class_counts().items() if count == 0]
    if empty and not allow_empty:
        raise DataError(f"class folder(s) {', '.join(str(root / name) for name in empty)} hold no readable images; "
                        "add images, remove the folder, or set data.allow_empty_classes=true to keep the class "
                        "(the model will never predict it well)")


def stratified_split(data: LabelledImages, val_fraction: float, test_fraction: float,
                     seed: int) -> dict[str, LabelledImages]:
    """Split into train/val/test with every class represented in proportion."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLIT_DIRS}
    for k in range(len(data.class_names)):
        members = rng.permutation(np.flatnonzero(data.labels == k))
        n_test = int(round(len(members) * test_fraction))
        n_val = int(round(len(members) * val_fraction))
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:])
    return {name: data.take(np.sort(np.concatenate(idx)), name=name)
            for name, idx in parts.items() if sum(len(i) for i in idx)}


def class_folders(root: Path) -> tuple[str, ...]:
    names = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if len(names) < 2:
        raise DataError(f"{root} holds {len(names)} class subfolder(s) ({', '.join(names) or 'none'}); "
                        "a classification dataset needs at least two, one folder per class")
    return names


#: The reason recorded in ``skipped`` for a photo in which ``face_crop`` found no face.
NO_FACE = "no face found"


def _load_split(root: Path, class_names: tuple[str, ...], image_size: int, name: str,
                face_crop=None) -> LabelledImages:
    images, labels, ids, skipped = [], [], [], []
    for k, class_name in enumerate(class_names):
        folder = root / class_name
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")) \
            if folder.is_dir() else []
        for path in files:
            try:
                rgb = read_image(path)
            except MediaError as exc:
                skipped.append((str(path), str(exc)))
                continue
            if face_crop is None:
                images.append(cv2.resize(rgb, (image_size, image_size), interpolation=cv2.INTER_AREA))
            else:
                crop = face_crop(rgb)
                if crop is None:
                    skipped.append((str(path), NO_FACE))
                    continue
                images.append(crop)
            labels.append(k)
            ids.append(str(path))
    if not images:
        raise DataError(f"{root} has no readable images in its class folders ({', '.join(class_names)})"
                        + (f"; {len(skipped)} file(s) could not be decoded, e.g. {skipped[0][1]}" if skipped else ""))
    return LabelledImages(
        images=np.stack(images),
        targets=one_hot(np.asarray(labels), len(class_names)),
        class_names=class_names,
        ids=np.asarray(ids),
        name=name,
        skipped=tuple(skipped),
    )
