"""FER+: FER2013's pixels relabelled by ten annotators (Microsoft's ``fer2013new.csv``).

The votes file has one row per ``fer2013.csv`` row, in the same order, and is joined to it BY
ROW POSITION (its ``Image name`` column does not encode the row). Both files' ``Usage`` columns
must agree row by row, which catches a misaligned or truncated votes file.

Two protocols: majority vote (the plurality winner among the ten columns, ties going to the
earlier column; rows won by ``unknown`` or ``NF`` dropped) and the vote distribution over the
eight emotions as soft targets (the same rows dropped, so both protocols see the same images).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
from pathlib import Path

import numpy as np

from emodet.data.csvfile import csv_rows, open_csv, read_header
from emodet.data.fer2013 import SPLITS, Fer2013Table
from emodet.data.images import LabelledImages, one_hot
from emodet.errors import DataError
from emodet.labels import FERPLUS8, FERPLUS_VOTE_COLUMNS

HEADER = ("Usage", "Image name", *FERPLUS_VOTE_COLUMNS)


def read_votes(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(votes (N, 10) float32, usage (N,))`` from ``fer2013new.csv``, in row order."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"FER+ votes file {path} does not exist; get fer2013new.csv from "
                        "github.com/microsoft/FERPlus and pass ferplus:FER2013_CSV,FERPLUS_CSV")
    stat = path.stat()
    return _read_cached(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _read_cached(path: Path, mtime_ns: int, size: int):
    del mtime_ns, size
    votes, usage = [], []
    with open_csv(path) as f:
        reader = csv.reader(f)
        header = read_header(reader, path, HEADER, "the FER+ votes file fer2013new.csv")
        cols = [header.index(c) for c in FERPLUS_VOTE_COLUMNS]
        use = header.index("Usage")
        for line, row in csv_rows(reader, path, len(header)):
            try:
                votes.append([float(row[c]) for c in cols])
            except ValueError:
                raise DataError(f"{path}, line {line}: vote columns must be numbers, "
                                f"found {[row[c] for c in cols]}") from None
            usage.append(row[use])
    if not votes:
        raise DataError(f"{path} has a header but no rows; expected one row per fer2013.csv row")
    return np.asarray(votes, dtype=np.float32), np.asarray(usage)


def join(table: Fer2013Table, votes_path: str | Path, soft: bool) -> dict[str, LabelledImages]:
    """FER+ splits from FER2013 pixels and the votes file, joined by row position."""
    votes = aligned_votes(table, votes_path)
    keep = usable_rows(votes)
    targets = vote_distribution(votes) if soft else one_hot(np.argmax(votes[:, :8], axis=1), len(FERPLUS8))
    splits = {}
    for name, usage_value in SPLITS.items():
        rows = np.flatnonzero((table.usage == usage_value) & keep)
        splits[name] = LabelledImages(
            images=table.pixels[rows], targets=targets[rows], class_names=FERPLUS8, ids=rows, name=name,
        )
    return splits


def blend_votes(split: LabelledImages, table: Fer2013Table, votes_path: str | Path, share: float) -> LabelledImages:
    """``split`` (FER2013 rows, FER2013 labels) with targets ``(1 - share) * label + share * votes``.

    The votes are FER+'s distribution over the split's classes, matched by name (contempt,
    unknown and NF dropped). Rows no annotator gave one of those classes keep their label.
    Ten annotators' disagreement is softer, better-founded smoothing than a uniform one.
    """
    votes = aligned_votes(table, votes_path)[split.ids]
    columns = [FERPLUS8.index(name) for name in split.class_names]
    mapped = votes[:, columns]
    totals = mapped.sum(axis=1, keepdims=True)
    distribution = np.divide(mapped, totals, out=split.targets.copy(), where=totals > 0)
    targets = ((1.0 - share) * split.targets + share * distribution).astype(np.float32)
    return dataclasses.replace(split, targets=targets)


def aligned_votes(table: Fer2013Table, votes_path: str | Path) -> np.ndarray:
    """The votes of ``votes_path``, checked to be row-aligned with ``table``."""
    votes, usage = read_votes(votes_path)
    if len(votes) != len(table.usage):
        raise DataError(f"{votes_path} has {len(votes)} rows but {table.path} has {len(table.usage)}; "
                        "FER+ joins row by row, so both files must be complete and in their original order")
    mismatch = np.flatnonzero(usage != table.usage)
    if mismatch.size:
        row = int(mismatch[0])
        raise DataError(f"{votes_path}, line {row + 2}: Usage {usage[row]!r} differs from {table.path}'s "
                        f"{table.usage[row]!r}; the two files are not aligned row by row")
    return votes


def usable_rows(votes: np.ndarray) -> np.ndarray:
    """Rows whose plurality winner is one of the eight emotions (not unknown/NF, not vote-less)."""
    return (np.argmax(votes, axis=1) < len(FERPLUS8)) & (votes[:, :8].sum(axis=1) > 0)


def vote_distribution(votes: np.ndarray) -> np.ndarray:
    emotion_votes = votes[:, :8]
    totals = emotion_votes.sum(axis=1, keepdims=True)
    return np.divide(emotion_votes, totals, out=np.zeros_like(emotion_votes), where=totals > 0)
