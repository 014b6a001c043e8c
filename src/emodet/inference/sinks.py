"""Where detection results go: JSON Lines, JSON, CSV, and annotated images or videos.

Every sink takes one record at a time, :class:`Record` (a result or an error for one
image or frame), and writes it at once where the format allows (JSON Lines, CSV), so an
interrupted run keeps everything finished before the interruption.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emodet.inference.results import FrameResult


@dataclass(frozen=True)
class Record:
    source: str
    result: FrameResult | None = None
    error: str | None = None
    completed: int | None = None  # set on the last record of a video: how many frames it gave

    def to_dict(self) -> dict:
        if self.completed is not None:
            return {"source": self.source, "completed": True, "frames": self.completed}
        if self.result is None:
            return {"source": self.source, "error": self.error}
        return {**self.result.to_dict(), "source": self.source}


class JsonlSink:
    """One JSON object per line: a frame result or ``{"source", "error"}``."""

    def __init__(self, path: Path, append: bool = False):
        self.file = open(path, "a" if append else "w", encoding="utf-8")

    def write(self, record: Record) -> None:
        self.file.write(json.dumps(record.to_dict()) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class JsonSink:
    """A single JSON array, written when the run closes (use JSON Lines for incremental output)."""

    def __init__(self, path: Path, append: bool = False):
        self.path = path
        self.records = json.loads(path.read_text()) if append and path.is_file() else []

    def write(self, record: Record) -> None:
        self.records.append(record.to_dict())

    def close(self) -> None:
        self.path.write_text(json.dumps(self.records, indent=1))


class CsvSink:
    """One row per face (or per failed input), with every class probability as a column."""

    def __init__(self, path: Path, class_names: tuple[str, ...], append: bool = False):
        self.class_names = class_names
        self.columns = ["source", "frame", "timestamp", "track_id", "x", "y", "width", "height",
                        "detection_score", "label", "score", *(f"p_{name}" for name in class_names), "error"]
        new = not (append and path.is_file())
        self.file = open(path, "a" if append else "w", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.file, fieldnames=self.columns)
        if new:
            self.writer.writeheader()

    def write(self, record: Record) -> None:
        if record.completed is not None:
            return
        if record.result is None:
            self.writer.writerow({"source": record.source, "error": record.error})
        elif not record.result.faces and record.result.frame_index is None:
            self.writer.writerow({"source": record.source})  # an image without faces: done, nothing found
        else:
            result = record.result
            for face in result.faces:
                row = {"source": record.source, "frame": result.frame_index, "timestamp": result.timestamp,
                       "track_id": face.track_id, "detection_score": face.detection_score,
                       "label": face.label, "score": face.score}
                row.update(zip(("x", "y", "width", "height"), face.box))
                row.update({f"p_{n}": float(p) for n, p in zip(self.class_names, face.probs)})
                self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        self.file.close()


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


def done_sources(path: Path) -> set[str]:
    """Inputs finished in an earlier run's JSON Lines or CSV output (for ``--resume``).

    An image counts once its result is recorded; a video only once its ``completed`` record is
    (JSON Lines only: CSV rows cannot tell a finished video from an interrupted one).
    """
    if not path.is_file():
        return set()
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            return {row["source"] for row in csv.DictReader(f) if not row.get("error") and not row.get("frame")}
    done = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the interruption
        if record.get("completed") or ("error" not in record and "frame" not in record):
            done.add(record["source"])
    return done
