"""FER2013: Kaggle's ``fer2013.csv`` (plain or gzipped), 48x48 grayscale faces, seven classes.

The standard protocol trains on ``Training``, selects on ``PublicTest`` and reports on
``PrivateTest``; :data:`SPLITS` maps those usages to emodet's split names.
"""

from __future__ import annotations

import csv
import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emodet.data.csvfile import csv_rows, open_csv, read_header
from emodet.data.images import LabelledImages, one_hot
from emodet.errors import DataError
from emodet.labels import FER7

HEADER = ("emotion", "pixels", "Usage")
SIDE = 48
#: emodet split name -> FER2013 ``Usage`` value.
SPLITS = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}


@dataclass(frozen=True)
class Fer2013Table:
    """The whole file: pixels ``(N, 48, 48, 1)`` uint8, labels ``(N,)`` and usage ``(N,)``, in row order."""

    path: Path
    pixels: np.ndarray
    emotions: np.ndarray
    usage: np.ndarray

    def split(self, name: str) -> LabelledImages:
        rows = np.flatnonzero(self.usage == SPLITS[name])
        return LabelledImages(
            images=self.pixels[rows],
            targets=one_hot(self.emotions[rows], len(FER7)),
            class_names=FER7,
            ids=rows,
            name=name,
        )


def read_fer2013(path: str | Path) -> Fer2013Table:
    """Parse ``fer2013.csv`` (or ``.csv.gz``); repeated calls on an unchanged file reuse the result."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"FER2013 file {path} does not exist; download fer2013.csv from Kaggle "
                        "and pass its path, e.g. fer2013:/data/fer2013.csv")
    stat = path.stat()
    return _read_cached(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _read_cached(path: Path, mtime_ns: int, size: int) -> Fer2013Table:
    del mtime_ns, size  # part of the cache key only
    pixels, emotions, usage = [], [], []
    with open_csv(path) as f:
        reader = csv.reader(f)
        header = read_header(reader, path, HEADER, "FER2013's fer2013.csv")
        col = {name: header.index(name) for name in HEADER}
        for line, row in csv_rows(reader, path, len(header)):
            pixels.append(parse_pixels(row[col["pixels"]], path, line))
            emotions.append(_parse_emotion(row[col["emotion"]], path, line))
            usage.append(_parse_usage(row[col["Usage"]], path, line))
    if not pixels:
        raise DataError(f"{path} has a header but no data rows; expected FER2013's 35,887 rows")
    return Fer2013Table(
        path=path,
        pixels=np.stack(pixels).reshape(-1, SIDE, SIDE, 1),
        emotions=np.asarray(emotions, dtype=np.int64),
        usage=np.asarray(usage),
    )


def parse_pixels(text: str, path: Path, line: int) -> np.ndarray:
    """One row's 2304 space-separated integers 0..255 as uint8."""
    count = len(text.split())
    try:
        with warnings.catch_warnings():
            # Older numpy warns and stops at a non-number, newer raises; both are reported below.
            warnings.simplefilter("ignore", DeprecationWarning)
            values = np.fromstring(text, sep=" ", dtype=np.int32)
    except ValueError:
        values = None
    if values is None or values.size != count or count != SIDE * SIDE:
        raise DataError(f"{path}, line {line}: the pixels column must hold {SIDE * SIDE} space-separated "
                        f"integers (a 48x48 image), found {count} values"
                        + ("" if values is not None and values.size == count else ", some of them not integers"))
    if values.min() < 0 or values.max() > 255:
        raise DataError(f"{path}, line {line}: pixel values must be 0..255, found {values.min()}..{values.max()}")
    return values.astype(np.uint8)


def _parse_emotion(text: str, path: Path, line: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < len(FER7):
        raise DataError(f"{path}, line {line}: emotion must be an integer 0..6 "
                        f"({', '.join(FER7)}), found {text!r}")
    return value


def _parse_usage(text: str, path: Path, line: int) -> str:
    if text not in SPLITS.values():
        raise DataError(f"{path}, line {line}: Usage must be one of {', '.join(SPLITS.values())}, found {text!r}")
    return text
