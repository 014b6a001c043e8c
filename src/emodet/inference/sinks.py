"""Where detection results go: JSON Lines, JSON, CSV, and annotated images or videos.

Every sink takes one record at a time, :class:`Record` (a result or an error for one image or
frame). A run with any output keeps a :class:`Journal` (the ``--jsonl`` file, or one beside the
other outputs): written a full line at a time, it is what ``--resume`` reads and what the JSON
array is rebuilt from, so every format holds each record exactly once after any interruption
and any number of resumes.

A journal (and each Ray shard) starts with a run header, ``{"run": {...}}``: the emodet version,
model, classes and settings that wrote the records after it (:meth:`EmotionDetector.describe`), and
one more for each resumed part that ran with other ones. Readers of records skip it (it has no
``source``); :func:`read_headers` returns it, for the detection report.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emodet.inference.results import FrameResult

#: The key of a run header line in a journal or shard.
RUN_KEY = "run"


@dataclass(frozen=True)
class Record:
    source: str
    result: FrameResult | None = None
    error: str | None = None
    completed: int | None = None  # set on the last record of a video: how many frames it gave
    note: str | None = None  # something the user should know about a successful result

    def to_dict(self) -> dict:
        if self.completed is not None:
            return {"source": self.source, "completed": True, "frames": self.completed}
        if self.result is None:
            return {"source": self.source, "error": self.error}
        data = {**self.result.to_dict(), "source": self.source}
        return {**data, "note": self.note} if self.note else data


class Journal:
    """The JSON Lines file of a batch run: one full line per record, and what resume reads.

    Each record is one ``write`` of a complete line to an unbuffered file, so an interruption can
    only cut the last line; opening with ``resume=True`` drops such a fragment, keeps the
    records of every finished input (an image's result or error, a video's ``completed`` or
    error record) and drops those of unfinished ones (the frames of a video cut short), then
    appends. Inputs that failed count as finished unless ``retry_failed``: then their error
    records are dropped and they are tried again. Resuming N times gives the file one would.
    """

    def __init__(self, path: Path, resume: bool = False, retry_failed: bool = False, header: dict | None = None):
        self.path = Path(path)
        self.existed = self.path.is_file()  # resuming from a file that is not there resumes nothing
        records = read_jsonl(self.path) if resume and self.existed else []
        headers = read_headers(self.path) if resume and self.existed else []
        finished, failed = finished_sources(records)
        self.done = finished - failed if retry_failed else finished
        self.failed_before = failed
        self.retried = failed if retry_failed else set()
        if header and not (headers and _same_run(headers[-1], header)):
            headers.append(header)  # a resumed part with other settings (or model, or version) gets its own
        lines = [header_line(h) for h in headers]
        _replace(self.path, "".join(lines + [_line(r) for r in records if r["source"] in self.done]))
        self.file = open(self.path, "ab", buffering=0)

    def write(self, record: Record) -> None:
        self.file.write(_line(record.to_dict()).encode("utf-8"))

    def records(self) -> list[dict]:
        return read_jsonl(self.path)

    def close(self) -> None:
        self.file.close()


class JsonSink:
    """A single JSON array, rebuilt from the run's :class:`Journal` (so it holds every record of
    every resumed part exactly once) whenever the run ends, interrupted or not."""

    def __init__(self, path: Path, journal: Journal):
        self.path = path
        self.journal = journal

    def write(self, record: Record) -> None:
        pass  # the journal already holds it

    def close(self) -> None:
        _replace(self.path, json.dumps(self.journal.records(), indent=1))


class CsvSink:
    """One row per face (or per failed input), with every class probability as a column.

    Like :class:`JsonSink` it is derived from the run's :class:`Journal`: on resume its rows are
    rebuilt from the journal's records, which hold exactly the finished inputs, so an interruption
    between the journal's line and the CSV's rows can neither lose an input nor write one twice.
    """

    def __init__(self, path: Path, class_names: tuple[str, ...], journal: Journal, resume: bool = False):
        self.class_names = class_names
        self.columns = ["source", "frame", "timestamp", "track_id", "x", "y", "width", "height",
                        "detection_score", "label", "score", *(f"p_{name}" for name in class_names), "error"]
        text = io.StringIO()
        rebuilt = self._writer(text)
        rebuilt.writeheader()
        for record in journal.records() if resume else []:
            rebuilt.writerows(csv_rows(record, class_names))
        _replace(Path(path), text.getvalue())
        self.file = open(path, "a", newline="", encoding="utf-8")
        self.writer = self._writer(self.file)

    def write(self, record: Record) -> None:
        self.writer.writerows(csv_rows(record.to_dict(), self.class_names))
        self.file.flush()

    def _writer(self, file) -> csv.DictWriter:
        return csv.DictWriter(file, fieldnames=self.columns, extrasaction="ignore")

    def close(self) -> None:
        self.file.close()


def csv_rows(record: dict, class_names) -> list[dict]:
    """The CSV rows of one journal record: one per face, one for a failed input or an image without faces."""
    if record.get("completed"):
        return []
    if "error" in record:
        return [{"source": record["source"], "error": record["error"]}]
    if not record["faces"] and "frame" not in record:
        return [{"source": record["source"]}]  # an image without faces: done, nothing found
    common = {"source": record["source"], "frame": record.get("frame"), "timestamp": record.get("timestamp")}
    return [{**common, "track_id": face.get("track_id"), "detection_score": face["detection_score"],
             "label": face["label"], "score": face["score"], **dict(zip(("x", "y", "width", "height"), face["box"])),
             **{f"p_{name}": face["probs"][name] for name in class_names}} for face in record["faces"]]


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON Lines file, without a last line cut short by an interruption."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    records = []
    for line in lines[:-1]:  # the part after the last newline is empty or a cut fragment
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "source" in record:
            records.append(record)
    return records


def read_headers(path: Path) -> list[dict]:
    """The run headers of a JSON Lines file of records (see the module's docstring), in order."""
    headers = []
    with open(path, encoding="utf-8") as file:
        for line in file:
            if line.startswith('{"' + RUN_KEY + '"'):
                try:
                    headers.append(json.loads(line)[RUN_KEY])
                except (json.JSONDecodeError, TypeError):
                    continue
    return headers


def _same_run(a: dict, b: dict) -> bool:
    """Whether two run headers describe the same detection (when they started aside)."""
    return {**a, "started": None} == {**b, "started": None}


def header_line(header: dict) -> str:
    """The JSON Lines text of a run header."""
    return _line({RUN_KEY: header})


def finished_sources(records: list[dict]) -> tuple[set[str], set[str]]:
    """(inputs whose final record is there, those of them that failed)."""
    finished, failed = set(), set()
    for record in records:
        if "error" in record:
            finished.add(record["source"])
            failed.add(record["source"])
        elif record.get("completed") or "frame" not in record:
            finished.add(record["source"])
    return finished, failed


def _line(record: dict) -> str:
    return json.dumps(record) + "\n"


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a crash leaves the old file or the new one, never half."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def journal_path(jsonl: Path | None, json_path: Path | None, csv_path: Path | None) -> Path | None:
    """The run's journal: the ``--jsonl`` file, else ``<--json or --csv file>.journal.jsonl``."""
    if jsonl is not None:
        return jsonl
    other = json_path or csv_path
    return None if other is None else other.with_name(other.name + ".journal.jsonl")


class AnnotatedSaver:
    """Annotated copies of images (``DIR/<name>``) and videos (``DIR/<stem>.annotated.mp4``)."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.writers: dict[str, object] = {}

    def save_image(self, source: str, image: np.ndarray, result: FrameResult) -> Path:
        import cv2

        path = self._target(source, Path(source).suffix if Path(source).suffix.lower() in (".jpg", ".jpeg", ".png")
                            else ".png")
        cv2.imwrite(str(path), np.ascontiguousarray(result.draw(image)[..., ::-1]))
        return path

    def add_frame(self, source: str, image: np.ndarray, result: FrameResult, fps: float) -> None:
        import cv2

        if source not in self.writers:
            height, width = image.shape[:2]
            path = self._target(source, ".annotated.mp4", replace_suffix=True)
            self.writers[source] = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps or 25.0,
                                                   (width, height))
        self.writers[source].write(np.ascontiguousarray(result.draw(image)[..., ::-1]))

    def close_video(self, source: str) -> None:
        writer = self.writers.pop(source, None)
        if writer is not None:
            writer.release()

    def close(self) -> None:
        for source in list(self.writers):
            self.close_video(source)

    def _target(self, source: str, suffix: str, replace_suffix: bool = False) -> Path:
        name = Path(source).stem if (replace_suffix or Path(source).suffix) else Path(source).name
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "stream"
        return self.directory / (safe + suffix)
