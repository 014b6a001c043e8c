"""Train a teacher and distil it into the bundled architecture, on a lent GPU, in a fixed time.

    bash tools/gpu/run.sh     # on the GPU machine, after `python tools/gpu/prepare.py` here

Runs on Keras 3's JAX backend (the GPU machine has no TensorFlow) from the data that
``prepare.py`` packed into ``.carry/``:

1. The teacher: the bundled model's recipe (``configs/fer2013-small_cnn-v3.yaml``) on ``wide_cnn``
   (``small_cnn`` at twice the width, 4x the compute) for ``--teacher-minutes`` of wall-clock time,
   its cosine schedule spread over that time (``train.time_budget``), the epoch chosen on PublicTest.
2. The student: the same recipe on ``small_cnn`` with the teacher's flip-averaged probabilities
   blended into its training targets, for ``--student-minutes``, or less if the whole job would
   otherwise outlast ``--total-minutes`` (the device call's limit is 10).

Every number it prints is on PublicTest, the validation split. Into ``--out`` (``$OUT`` there)
go the student (``student.keras``, float32), the teacher's weights in float16 (``teacher.npz``,
rebuilt by ``python tools/gpu/teacher.py``), both histories and validation metrics: at most 8
files, each under 16 MiB, as the device tool returns them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
SIDE, MOSAIC = 48, 100
# A run's work after its budget (teacher scoring, evaluation, report), kept free of the student's.
FINISHING_MINUTES = 1.0
RECIPE = "configs/fer2013-small_cnn-v3.yaml"
# What differs from the recipe: a time budget (set per run) instead of 40 epochs, so the epoch
# count is only a ceiling and early stopping never cuts the schedule short.
FOR_A_BUDGET = ["train.finetune_epochs=1000", "train.patience=1000"]


def unpack(carried: Path, work: Path) -> tuple[Path, Path]:
    """``fer2013.csv`` (Training + PublicTest rows) and the matching ``fer2013new.csv`` in ``work``."""
    packed = np.load(carried, allow_pickle=False)
    emotion, usage = packed["emotion"], np.array(["Training", "PublicTest"])[packed["usage"]]
    mosaics = sorted((k for k in packed.files if k.startswith("mosaic")), key=lambda k: int(k[6:]))
    faces = np.concatenate([_decode_mosaic(packed[k]) for k in mosaics])[:len(emotion)]
    work.mkdir(parents=True, exist_ok=True)
    csv_path, votes_path = work / "fer2013.csv", work / "fer2013new.csv"
    with open(csv_path, "w") as f:
        f.write("emotion,pixels,Usage\n")
        for label, face, split in zip(emotion, faces.reshape(len(faces), -1), usage):
            f.write(f"{label},{' '.join(map(str, face.tolist()))},{split}\n")
    votes_path.write_bytes(packed["ferplus"].tobytes())
    return csv_path, votes_path


def _decode_mosaic(encoded: np.ndarray) -> np.ndarray:
    grid = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return grid.reshape(MOSAIC, SIDE, MOSAIC, SIDE).transpose(0, 2, 1, 3).reshape(-1, SIDE, SIDE)


def run(name: str, overrides: list[str], run_dir: Path) -> dict:
    """One ``emodet train`` run of the recipe; returns its validation scores."""
    from emodet.config import load_config
    from emodet.training import train

    config = load_config(REPO / RECIPE, [*FOR_A_BUDGET, *overrides])
    started = time.monotonic()
    result = train(config, run_dir, log=say)
    scores = {"best_epoch": result.best_epoch, "epochs": len(result.history),
              "val_accuracy": result.val_report.accuracy,
              "val_macro_f1": result.val_report.averaged("macro")["f1"], "minutes": (time.monotonic() - started) / 60}
    say(f"{name}: {json.dumps(scores)}")
    return scores


def save_teacher(run_dir: Path, out: Path) -> None:
    """The teacher's inference graph and its weights in float16 (its float32 file is over the 16 MiB
    a returned file may be); tools/gpu/teacher.py turns them back into a ``.keras`` file."""
    from emodet.models.classifier import inference_model, load_model

    model = inference_model(load_model(run_dir / "best.keras"))
    weights = {f"w{k:03d}": w.astype(np.float16) for k, w in enumerate(model.get_weights())}
    np.savez(out / "teacher.npz", architecture=np.array(model.to_json()), **weights)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / ".carry" / "fer2013-trainval.npz")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/emodet-gpu"))
    parser.add_argument("--teacher-minutes", type=float, default=4.0)
    parser.add_argument("--student-minutes", type=float, default=2.5)
    parser.add_argument("--total-minutes", type=float, default=9.0,
                        help="the whole job's limit: the student's budget shrinks to keep within it")
    parser.add_argument("--teacher-blend", type=float, default=0.5)
    parser.add_argument("--set", action="append", default=[], help="section.key=value for both runs (smoke tests)")
    return parser.parse_args()


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> None:
    args = arguments()
    import keras

    started = time.monotonic()
    say(f"Keras {keras.__version__} on {keras.backend.backend()}")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path, votes_path = unpack(args.data, args.work)
    data = [f"data.source=fer2013:{csv_path}", f"data.ferplus_votes={votes_path}", *args.set]
    teacher_dir, student_dir = args.work / "teacher", args.work / "student"
    summary = {"teacher": run("teacher", [*data, "model.backbone=wide_cnn",
                                          f"train.time_budget={args.teacher_minutes}"],
                              teacher_dir)}
    save_teacher(teacher_dir, args.out)
    shutil.copy(teacher_dir / "history.csv", args.out / "teacher-history.csv")
    left = args.total_minutes - (time.monotonic() - started) / 60 - FINISHING_MINUTES
    student_minutes = min(args.student_minutes, left)
    if student_minutes < min(args.student_minutes, 0.5):
        say(f"no time left for the student ({left:.1f} minutes); the teacher is in {args.out}")
    else:
        summary["student"] = train_student(data, teacher_dir / "best.keras", student_dir, student_minutes,
                                           args.teacher_blend, args.out)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    say("done: " + json.dumps(summary))


def train_student(data: list[str], teacher: Path, student_dir: Path, minutes: float, blend: float,
                  out: Path) -> dict:
    """The bundled architecture with ``blend`` of its targets the teacher's probabilities; copied to ``out``."""
    summary = run("student", [*data, f"train.time_budget={minutes:.2f}", f"train.teachers={teacher}",
                              f"train.teacher_blend={blend}"], student_dir)
    shutil.copy(student_dir / "best.keras", out / "student.keras")
    shutil.copy(student_dir / "history.csv", out / "student-history.csv")
    return summary


if __name__ == "__main__":
    main()
