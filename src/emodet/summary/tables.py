"""The per-track time series of a summary as files: CSV (always) or Parquet (with pyarrow), one row per
track and analysed frame, written track by track so that millions of rows never sit in memory as
Python objects."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from emodet.summary.model import DetectionSummary, Track

#: The columns before the probabilities (``p_<class>``).
COLUMNS = ("source", "track_id", "time_s", "frame", "label", "short")


def _tracks(summary: DetectionSummary) -> Iterator[tuple[Track, bool]]:
    for video in summary.videos:
        for track in video.tracks:
            yield track, False
        for track in video.others:
            yield track, True


def track_columns(track: Track, short: bool, class_names) -> dict[str, np.ndarray]:
    """One track's rows as columns: source, track_id, time_s, frame, label, short, then p_<class>."""
    rows = len(track.times)
    columns = {"source": np.full(rows, track.source, dtype=object),
               "track_id": np.full(rows, str(track.track_id), dtype=object),
               "time_s": track.times, "frame": track.frames.astype(np.int64),
               "label": np.asarray(class_names, dtype=object)[track.labels], "short": np.full(rows, short)}
    columns.update({f"p_{name}": track.probs[:, k] for k, name in enumerate(class_names)})
    return columns


def write_timeline_csv(summary: DetectionSummary, path: str | Path) -> Path:
    """Write the time series as CSV (atomically) and return the path."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([*COLUMNS, *(f"p_{name}" for name in summary.class_names)])
        for track, short in _tracks(summary):
            columns = track_columns(track, short, summary.class_names)
            writer.writerows(zip(*(_printable(name, values) for name, values in columns.items())))
    os.replace(temporary, path)
    return path


def write_timeline_parquet(summary: DetectionSummary, path: str | Path) -> Path:
    """Write the time series as Parquet, a row group per track (needs pyarrow: the 'report' extra)."""
    from emodet.extras import require

    require("report", "writing the timelines as Parquet", module="pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    schema = pa.schema([("source", pa.string()), ("track_id", pa.string()), ("time_s", pa.float64()),
                        ("frame", pa.int64()), ("label", pa.string()), ("short", pa.bool_())]
                       + [(f"p_{name}", pa.float32()) for name in summary.class_names])
    temporary = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(temporary, schema) as writer:
        for track, short in _tracks(summary):
            writer.write_table(pa.table(track_columns(track, short, summary.class_names), schema=schema))
    os.replace(temporary, path)
    return path


def _printable(name: str, values: np.ndarray):
    if name.startswith("p_"):
        return (f"{v:.4f}" for v in values)
    if name == "time_s":
        return (f"{v:.3f}" for v in values)
    return values.tolist()
