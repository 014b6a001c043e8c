"""Datasets read from disk batch by batch (tf.data), for training sets larger than memory.

:func:`stream_splits` lists a source's splits without decoding them: a folder's image paths with
their class, or FER2013's row labels. Only that index is held in memory (a path or a label per
image); :meth:`StreamedSplit.dataset` then reads, decodes and batches the images in parallel,
ahead of the model. Batches are the model's usual input (uint8 RGB faces, one-hot targets,
optional sample weights), so resizing, normalisation and augmentation stay inside the model
exactly as for data held in memory.

tf.data feeds Keras on every backend (JAX and PyTorch included) and reads local, GCS and S3 paths
alike, which is why it is used here rather than a second loader per backend.

Supported: ``fer2013:CSV[.gz]`` (the text file itself, parsed as it streams), ``folder:DIR``
(class subfolders, split as :mod:`emodet.data.folder` splits them) and ``shards:DIR`` (TFRecord
shards of decoded faces written once by :func:`write_shards`, ``emodet shard``: the fastest to
stream). Shuffling: a folder's paths are reshuffled every epoch; FER2013's rows and shards' faces
go through a buffer of ``SHUFFLE_BUFFER`` faces (shards also in a new file order each epoch).
Unreadable images are left out of the stream (the epoch goes on).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emodet.data.images import LabelledImages, one_hot
from emodet.data.naming import parse_source
from emodet.errors import ConfigError, DataError

SHUFFLE_BUFFER = 10_000
SHARD_FACES = 10_000  # faces per TFRecord shard written by write_shards
SHARDS_INDEX = "shards.json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


@dataclass(frozen=True)
class StreamedSplit:
    """One split as an index (a label, and for folders a path, per image); images stay on disk."""

    name: str
    class_names: tuple[str, ...]
    labels: np.ndarray
    image_size: int
    source: str
    paths: np.ndarray | None = None  # folder sources: one file per image
    usage: str = ""  # fer2013 sources: the ``Usage`` value of this split's rows
    shards: tuple[str, ...] = ()  # shards sources: this split's TFRecord files
    skipped: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def fingerprint(self) -> str:
        """A short hash of the index (paths or row labels) and the source: stable across runs."""
        digest = hashlib.sha256(f"{self.source}|{self.name}|{self.usage}".encode())
        digest.update(np.ascontiguousarray(self.labels).tobytes())
        if self.paths is not None or self.shards:
            digest.update("\n".join(self.paths.tolist() if self.paths is not None else self.shards).encode())
        return digest.hexdigest()[:16]

    def dataset(self, batch_size: int, *, shuffle: bool = False, seed: int = 0, class_weights=None,
                with_targets: bool = True, multiple_of: int = 1):
        """A ``tf.data.Dataset`` of batches ``(images[, targets[, weights]])``, prefetched.

        ``multiple_of``: as for :class:`~emodet.data.feed.ImageBatches`, only full multiples reach the
        model (the few left over at the end of a pass are dropped).
        """
        import tensorflow as tf

        faces = self.faces(shuffle, seed)
        classes = len(self.class_names)
        weights = None if class_weights is None else tf.constant(np.asarray(class_weights, np.float32))

        def batch_of(images, labels):
            if not with_targets:
                return (images,)
            targets = tf.one_hot(labels, classes)
            if weights is None:
                return images, targets
            return images, targets, tf.gather(weights, labels)

        batches = faces.batch(batch_size, num_parallel_calls=tf.data.AUTOTUNE)
        if multiple_of > 1:
            batches = batches.map(lambda x, y: (x[:tf.shape(x)[0] // multiple_of * multiple_of],
                                                y[:tf.shape(y)[0] // multiple_of * multiple_of]))
            batches = batches.filter(lambda x, y: tf.shape(x)[0] > 0)
        return batches.map(batch_of, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def load(self) -> LabelledImages:
        """The whole split in memory (for the small validation split of a streamed run)."""
        images, labels = [], []
        for batch_images, batch_labels in self.faces().batch(512):
            images.append(batch_images.numpy())
            labels.append(batch_labels.numpy())
        if not images:
            raise DataError(f"{self.source} has no readable images in its {self.name} split")
        labels = np.concatenate(labels)
        return LabelledImages(np.concatenate(images), one_hot(labels, len(self.class_names)), self.class_names,
                              np.arange(len(labels)), self.name, skipped=self.skipped)

    def faces(self, shuffle: bool = False, seed: int = 0):
        """Single decoded faces ``(uint8 (S, S, 3), label)``, in stored order or shuffled."""
        import tensorflow as tf

        if self.paths is not None:
            return _file_faces(tf, self, shuffle, seed)
        if self.shards:
            return _shard_faces(tf, self, shuffle, seed)
        faces = _fer2013_rows(tf, self.source, self.usage).apply(tf.data.experimental.assert_cardinality(len(self)))
        return faces.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True) if shuffle else faces


def _file_faces(tf, split: StreamedSplit, shuffle: bool, seed: int):
    pairs = tf.data.Dataset.from_tensor_slices((split.paths, split.labels.astype(np.int32)))
    if shuffle:
        pairs = pairs.shuffle(len(split.paths), seed=seed, reshuffle_each_iteration=True)
    size = split.image_size
    faces = pairs.map(lambda path, label: (_decode_file(tf, path, size), label),
                      num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)
    return faces.ignore_errors()


def _shard_faces(tf, split: StreamedSplit, shuffle: bool, seed: int):
    files = tf.data.Dataset.from_tensor_slices(list(split.shards))
    if shuffle:
        files = files.shuffle(len(split.shards), seed=seed, reshuffle_each_iteration=True)
    records = files.interleave(tf.data.TFRecordDataset,  # in order (one file at a time) unless shuffled
                               cycle_length=min(4, len(split.shards)) if shuffle else 1,
                               num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)
    size = split.image_size
    faces = records.map(lambda record: _parse_face(tf, record, size), num_parallel_calls=tf.data.AUTOTUNE)
    return faces.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True) if shuffle else faces


def _decode_file(tf, path, size: int):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image = tf.image.resize(image, (size, size), method="area")
    return tf.cast(tf.round(image), tf.uint8)


def _parse_face(tf, record, size: int):
    features = tf.io.parse_single_example(record, {"image": tf.io.FixedLenFeature([], tf.string),
                                                   "label": tf.io.FixedLenFeature([], tf.int64)})
    image = tf.reshape(tf.io.decode_raw(features["image"], tf.uint8), (size, size, 3))
    return image, tf.cast(features["label"], tf.int32)


def write_shards(spec: str, out_dir: str | Path, *, image_size: int, val_fraction: float = 0.1,
                 test_fraction: float = 0.1, seed: int = 42, faces_per_shard: int = SHARD_FACES) -> dict[str, int]:
    """Write every split of ``spec`` as TFRecord shards of decoded ``image_size`` faces under
    ``out_dir``, streaming (never the whole source in memory); returns the faces written per split."""
    import tensorflow as tf

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    splits = stream_splits(spec, image_size=image_size, val_fraction=val_fraction, test_fraction=test_fraction,
                           seed=seed)
    index = {"source": spec, "image_size": image_size, "class_names": list(next(iter(splits.values())).class_names),
             "splits": {}}
    for name, split in splits.items():
        files, labels, writer = [], [], None
        for image, label in split.faces():
            if len(labels) % faces_per_shard == 0:
                if writer is not None:
                    writer.close()
                files.append(f"{name}-{len(files):05d}.tfrecord")
                writer = tf.io.TFRecordWriter(str(out / files[-1]))
            example = tf.train.Example(features=tf.train.Features(feature={
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.numpy().tobytes()])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))}))
            writer.write(example.SerializeToString())
            labels.append(int(label))
        if writer is not None:
            writer.close()
        np.save(out / f"{name}-labels.npy", np.asarray(labels, np.int64))
        index["splits"][name] = {"files": files, "faces": len(labels)}
    (out / SHARDS_INDEX).write_text(json.dumps(index, indent=2))
    return {name: entry["faces"] for name, entry in index["splits"].items()}


def _shards_index(root: str) -> dict[str, StreamedSplit]:
    base = Path(root).expanduser()
    if not (base / SHARDS_INDEX).is_file():
        raise DataError(f"{base} holds no {SHARDS_INDEX}; write shards first: emodet shard --data SOURCE "
                        f"--output-dir {base}")
    index = json.loads((base / SHARDS_INDEX).read_text())
    names = tuple(index["class_names"])
    return {name: StreamedSplit(name, names, np.load(base / f"{name}-labels.npy"), int(index["image_size"]),
                                str(base), shards=tuple(str(base / f) for f in entry["files"]))
            for name, entry in index["splits"].items() if entry["faces"]}


def _fer2013_rows(tf, path: str, usage: str):
    from emodet.data.fer2013 import SIDE

    lines = tf.data.TextLineDataset(path, compression_type="GZIP" if path.endswith(".gz") else "").skip(1)
    rows = lines.map(lambda line: tuple(tf.io.decode_csv(line, record_defaults=[[0], [""], [""]])),
                     num_parallel_calls=tf.data.AUTOTUNE)
    rows = rows.filter(lambda emotion, pixels, row_usage: tf.equal(tf.strings.strip(row_usage), usage))

    def face(emotion, pixels, row_usage):
        values = tf.strings.to_number(tf.strings.split(pixels), tf.int32)
        gray = tf.reshape(tf.cast(values, tf.uint8), (SIDE, SIDE, 1))
        return tf.repeat(gray, 3, axis=-1), emotion

    return rows.map(face, num_parallel_calls=tf.data.AUTOTUNE)


def stream_splits(spec: str, *, image_size: int, val_fraction: float = 0.1, test_fraction: float = 0.1,
                  seed: int = 42) -> dict[str, StreamedSplit]:
    """The splits of ``spec`` as indexes to stream from (see the module docstring for the sources)."""
    source = parse_source(spec)
    if source.kind == "fer2013":
        return _fer2013_index(source.paths[0])
    if source.kind == "folder":
        return _folder_index(source.paths[0], image_size, val_fraction, test_fraction, seed)
    if source.kind == "shards":
        return _shards_index(source.paths[0])
    raise ConfigError(f"streaming reads fer2013:CSV and folder:DIR sources, not {spec}; FER+ votes need the "
                      "data in memory (set data.stream=false)")


def _fer2013_index(path: str) -> dict[str, StreamedSplit]:
    """One pass over the CSV for each row's label and split, checking columns and pixel counts.

    Stricter than :mod:`emodet.data.fer2013`'s reader on purpose (columns in Kaggle's order, no
    blank lines, gzip told by the ``.gz`` suffix): tf.data's line reader (:func:`_fer2013_rows`)
    parses each row by position, so anything it could not parse must be refused here, up front.
    """
    from emodet.data.fer2013 import HEADER, SIDE, SPLITS
    from emodet.labels import FER7

    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"FER2013 file {file} does not exist; pass the path of fer2013.csv or fer2013.csv.gz")
    labels: dict[str, list[int]] = {usage: [] for usage in SPLITS.values()}
    with (gzip.open(file, "rt", newline="") if file.suffix == ".gz" else open(file, newline="")) as f:
        reader = csv.reader(f)
        header = tuple(next(reader, ()))
        if header != HEADER:
            raise DataError(f"{file} has columns {', '.join(header) or 'none'}; expected {', '.join(HEADER)} "
                            "(Kaggle's fer2013.csv)")
        for line, row in enumerate(reader, start=2):
            if len(row) != 3 or row[2].strip() not in labels or row[1].count(" ") != SIDE * SIDE - 1:
                raise DataError(f"{file} line {line} is not a FER2013 row (emotion 0-6, {SIDE * SIDE} pixel values, "
                                f"a Usage of {', '.join(SPLITS.values())}); fix or remove it")
            labels[row[2].strip()].append(int(row[0]))
    return {name: StreamedSplit(name, FER7, np.asarray(labels[usage], np.int64), SIDE, str(file), usage=usage)
            for name, usage in SPLITS.items() if labels[usage]}


def _folder_index(root: str, image_size: int, val_fraction: float, test_fraction: float,
                  seed: int) -> dict[str, StreamedSplit]:
    """A folder's splits as lists of paths, split as the in-memory loader splits them."""
    from emodet.data import folder

    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataError(f"dataset folder {base} does not exist or is not a directory; expected "
                        "DIR/<class name>/<images> or DIR/train|val|test/<class name>/<images>")
    if (base / "train").is_dir():
        names = folder.class_folders(base / "train")
        parts = {split: _listed(base / split, names, split) for split in folder.SPLIT_DIRS if (base / split).is_dir()}
    else:
        names = folder.class_folders(base)
        whole = _listed(base, names, "all")
        subjects = folder.subject_column(base, whole)
        parts = (folder.subject_split(whole, subjects, val_fraction, test_fraction, seed) if subjects is not None
                 else folder.stratified_split(whole, val_fraction, test_fraction, seed))
    return {split: StreamedSplit(split, names, part.labels, image_size, str(base), paths=np.asarray(part.ids, str))
            for split, part in parts.items()}


def _listed(root: Path, class_names: tuple[str, ...], name: str) -> LabelledImages:
    """An index of a folder: one placeholder pixel per image, the file path as its id."""
    paths, labels = [], []
    for k, class_name in enumerate(class_names):
        files = sorted(p for p in (root / class_name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) \
            if (root / class_name).is_dir() else []
        paths += [str(p) for p in files]
        labels += [k] * len(files)
    if not paths:
        raise DataError(f"{root} has no images ({', '.join(IMAGE_SUFFIXES)}) in its class folders "
                        f"({', '.join(class_names)})")
    return LabelledImages(np.zeros((len(paths), 1, 1, 1), np.uint8), one_hot(np.asarray(labels), len(class_names)),
                          class_names, np.asarray(paths), name)
