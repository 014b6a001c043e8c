"""The run directory's per-epoch bookkeeping: history CSV, checkpoints and resumable state.

After every epoch :class:`RunRecorder` appends a history row, writes ``last.keras`` (model and
optimizer, for resuming), ``best.weights.h5`` when the monitored validation metric improved,
and ``state.json`` saying where training stands. Files are replaced atomically, so an
interruption at any moment leaves a consistent run directory.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

HISTORY = "history.csv"
STATE = "state.json"
LAST = "last.keras"
BEST_WEIGHTS = "best.weights.h5"
HISTORY_FIELDS = ("epoch", "stage", "learning_rate", "loss", "accuracy", "val_loss", "val_accuracy")


@dataclass
class RunState:
    # Epochs completed so far, counted across both stages.
    epoch: int = 0
    # The stage the last completed epoch belonged to (1: head only, 2: fine-tuning).
    stage: int = 1
    # Whether that stage ended (its epochs done or early-stopped).
    stage_finished: bool = False
    # Best monitored validation value so far and the (1-based) epoch that reached it.
    best: float | None = None
    best_epoch: int = 0
    # Wall-clock seconds the current stage has run, counted across resumes (train.time_budget).
    stage_seconds: float = 0.0

    @classmethod
    def load(cls, run_dir: Path) -> RunState | None:
        path = run_dir / STATE
        return cls(**json.loads(path.read_text())) if path.is_file() else None

    def save(self, run_dir: Path) -> None:
        atomic_write_text(run_dir / STATE, json.dumps(asdict(self), indent=2))


class RunRecorder(keras.callbacks.Callback):
    """Keeps the run directory current after each epoch (see the module docstring)."""

    def __init__(self, run_dir: Path, state: RunState, stage: int, monitor: str):
        super().__init__()
        self.run_dir = run_dir
        self.state = state
        self.stage = stage
        self.monitor = monitor

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            raise KeyError(f"train.monitor {self.monitor!r} is not among the logged metrics {sorted(logs)}")
        row = {"epoch": epoch + 1, "stage": self.stage, "learning_rate": current_learning_rate(self.model)}
        row.update({k: logs.get(k) for k in HISTORY_FIELDS[3:]})
        row.update({k: v for k, v in logs.items() if k.startswith("val_") and k not in row})
        append_history(self.run_dir, row)
        improved = _better(value, self.state.best, self.monitor)
        if improved:
            self.model.save_weights(self.run_dir / BEST_WEIGHTS)
            self.state.best, self.state.best_epoch = float(value), epoch + 1
        _atomic_save_model(self.model, self.run_dir / LAST)
        self.state.epoch, self.state.stage, self.state.stage_finished = epoch + 1, self.stage, False
        self.state.save(self.run_dir)

    def finish_stage(self) -> None:
        self.state.stage = self.stage
        self.state.stage_finished = True
        self.state.save(self.run_dir)


def current_learning_rate(model: keras.Model) -> float:
    return float(np.asarray(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))


def read_history(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / HISTORY
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: _number(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


def _number(key: str, value: str | None):
    if value in ("", None):
        return None
    return int(float(value)) if key in ("epoch", "stage") else float(value)


def append_history(run_dir: Path, row: dict) -> None:
    """Append one epoch's row; the first row fixes the columns (the standard ones, then each
    validation set's scores and ``val_score``)."""
    path = run_dir / HISTORY
    new = not path.is_file()
    if new:
        fields = [*HISTORY_FIELDS, *(k for k in row if k not in HISTORY_FIELDS)]
    else:
        with open(path, newline="") as f:
            fields = next(csv.reader(f), list(HISTORY_FIELDS))
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k) for k in fields})


def truncate_history(run_dir: Path, epochs: int) -> None:
    """Drop history rows after ``epochs`` (an epoch that ran but whose checkpoint was lost)."""
    rows = [r for r in read_history(run_dir) if r["epoch"] <= epochs]
    path = run_dir / HISTORY
    if path.is_file():
        path.unlink()
    for r in rows:
        append_history(run_dir, r)


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _atomic_save_model(model: keras.Model, path: Path) -> None:
    tmp = path.with_name("tmp-" + path.name)
    model.save(tmp)
    os.replace(tmp, path)


def _better(value: float, best: float | None, monitor: str) -> bool:
    if best is None:
        return True
    return value < best if "loss" in monitor else value > best
