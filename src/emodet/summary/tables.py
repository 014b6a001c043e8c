"""The per-track time series of a summary as files: CSV (always) or Parquet (with pyarrow), one row per
track and analysed frame, written column by column from the tracks' arrays."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from emodet.summary.model import DetectionSummary


def timeline_columns(summary: DetectionSummary) -> dict[str, np.ndarray]:
    """The columns of the time series: source, track_id, time_s, frame, label, short, then p_<class>."""
    tracks = [(t, short) for v in summary.videos for short, ts in ((False, v.tracks), (True, v.others)) for t in ts]
    names = np.array(summary.class_names)

    def column(values) -> np.ndarray:
        return np.concatenate(values) if values else np.zeros(0)

    columns = {
        "source": column([np.full(len(t.times), t.source, dtype=object) for t, _ in tracks]),
        "track_id": column([np.full(len(t.times), str(t.track_id), dtype=object) for t, _ in tracks]),
        "time_s": column([t.times for t, _ in tracks]),
        "frame": column([t.frames for t, _ in tracks]).astype(np.int64),
        "label": column([names[t.labels] for t, _ in tracks]),
        "short": column([np.full(len(t.times), short) for t, short in tracks]).astype(bool),
    }
    probs = column([t.probs for t, _ in tracks]).reshape(-1, len(names))
    columns.update({f"p_{name}": probs[:, k] for k, name in enumerate(names)})
    return columns


def write_timeline_csv(summary: DetectionSummary, path: str | Path) -> Path:
    """Write the time series as CSV (atomically) and return the path."""
    path = Path(path)
    columns = timeline_columns(summary)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(zip(*(_printable(name, values) for name, values in columns.items())))
    os.replace(temporary, path)
    return path


def write_timeline_parquet(summary: DetectionSummary, path: str | Path) -> Path:
    """Write the time series as Parquet (needs pyarrow: the 'report' extra) and return the path."""
    from emodet.extras import require

    require("report", "writing the timelines as Parquet", module="pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    columns = timeline_columns(summary)
    table = pa.table({name: (values.astype(str) if values.dtype == object else values)
                      for name, values in columns.items()})
    temporary = path.with_name(path.name + ".tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, path)
    return path


def _printable(name: str, values: np.ndarray):
    if name.startswith("p_"):
        return (f"{v:.4f}" for v in values)
    if name == "time_s":
        return (f"{v:.3f}" for v in values)
    return values.tolist()
