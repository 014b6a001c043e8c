"""What the faces of a detection run showed: summaries of its records and the detection report.

``summarize(records)`` reads the records of a run (a ``--jsonl`` file, a Ray ``--output-dir``,
several of them, or records and results in memory) as a stream and returns a
:class:`DetectionSummary`: per-track timelines of videos and streams, per-photo rows and their
distributions, failures, and what was wrong with the records. ``write_report`` turns it into
one self-contained HTML page (:mod:`emodet.summary.page`); :mod:`emodet.summary.tables` writes
the per-track time series as CSV or Parquet.
"""

from __future__ import annotations

from pathlib import Path

from emodet.summary.builder import MIN_TRACK_SECONDS, SummaryBuilder
from emodet.summary.model import DetectionSummary, FaceRef, PhotoSummary, Track, VideoSummary

__all__ = ["DetectionSummary", "FaceRef", "MIN_TRACK_SECONDS", "PhotoSummary", "SummaryBuilder", "Track",
           "VideoSummary", "summarize", "write_report"]


def summarize(records, *, thumbnails: bool = True) -> DetectionSummary:
    """Summarise the records of detection runs.

    ``records``: a path (a ``--jsonl`` file of ``emodet detect``, a Ray ``--output-dir``), a list of
    paths, or an iterable of records (the dicts of a ``--jsonl`` file) or of
    :class:`~emodet.inference.results.FrameResult` (e.g. from ``EmotionDetector.stream``). With
    ``thumbnails``, the faces the report shows are cut from their sources when these can be read.
    ``summary.tables()`` gives the per-track, per-frame and per-image tables (pandas if installed).
    """
    builder = SummaryBuilder()
    if isinstance(records, (str, Path)) or _is_path_list(records):
        from emodet.summary.records import RecordReader

        reader = RecordReader([records] if isinstance(records, (str, Path)) else list(records))
        for record in reader:
            builder.add(record)
        summary = builder.finish(reader.headers, reader.problems)
    else:
        for record in records:
            builder.add(record if isinstance(record, dict) else record.to_dict())
        summary = builder.finish()
    if thumbnails:
        from emodet.summary.thumbnails import fill_thumbnails

        fill_thumbnails(summary)
    return summary


def write_report(summary: DetectionSummary, path: str | Path, title: str | None = None) -> Path:
    """Write the detection report of ``summary`` to ``path`` (HTML; needs matplotlib: the 'report' extra)."""
    from emodet.extras import require

    require("report", "the detection report")
    from emodet.summary.page import write_report as write

    return write(summary, path, title)


def _is_path_list(records) -> bool:
    return isinstance(records, (list, tuple)) and bool(records) and all(isinstance(r, (str, Path)) for r in records)
