"""Training throughput: FER2013 held in memory against FER2013 streamed from disk (tf.data).

    python benchmarks/stream_speed.py [--steps 120] [--repeats 3] [--batch-size 64]

Trains the bundled model's recipe (configs/fer2013-small_cnn-v3.yaml: small_cnn at 48 px with its
augmentation, mixed_bfloat16, class weights; hard labels) on FER2013 Training, fed three ways in one process:
``memory`` (the whole split decoded into RAM, :class:`~emodet.data.feed.ImageBatches`),
``stream csv`` (fer2013.csv.gz parsed as it streams), ``stream folder`` (the same faces as PNG
files in a temporary folder, decoded as they stream) and ``stream shards`` (the same faces as
TFRecord shards, ``emodet shard``); the temporary files are deleted afterwards, never committed. Each
repeat times ``--steps`` training steps per feed after a warm-up, feeds in rotating order;
medians are printed, with each stream's ratio to memory. Run it alone on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402

from emodet.config import load_config  # noqa: E402
from emodet.data import load_splits  # noqa: E402
from emodet.data.feed import ImageBatches, balanced_class_weights  # noqa: E402
from emodet.data.stream import stream_splits, write_shards  # noqa: E402
from emodet.models.classifier import build_from_config  # noqa: E402
from emodet.training.fit import compile_model  # noqa: E402
from emodet.training.precision import dtype_policy  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMODET_SHARED", REPO.parent / "shared"))
CSV = SHARED / "data" / "fer2013" / "fer2013.csv.gz"


def write_folder(train, root: Path) -> None:
    for name in train.class_names:
        (root / "train" / name).mkdir(parents=True)
        (root / "val" / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(train.images, train.labels)):
        cv2.imwrite(str(root / "train" / train.class_names[label] / f"{i:05d}.png"), image[..., 0])
    for name in train.class_names:  # a validation split, which the folder index requires
        first = next((root / "train" / name).iterdir())
        shutil.copy(first, root / "val" / name / first.name)


def feeds(config, memory, folder_root: Path) -> dict:
    weights = balanced_class_weights(memory.labels, 7, config.train.class_weight_power)
    batch = config.train.batch_size
    csv_split = stream_splits(f"fer2013:{CSV}", image_size=48)["train"]
    folder_split = stream_splits(f"folder:{folder_root}", image_size=48)["train"]
    write_shards(f"fer2013:{CSV}", folder_root / "shards", image_size=48)
    shards_split = stream_splits(f"shards:{folder_root / 'shards'}", image_size=48)["train"]
    return {
        "memory": ImageBatches(memory, batch, shuffle=True, seed=0, class_weights=weights),
        "stream csv": csv_split.dataset(batch, shuffle=True, seed=0, class_weights=weights).repeat(),
        "stream folder": folder_split.dataset(batch, shuffle=True, seed=0, class_weights=weights).repeat(),
        "stream shards": shards_split.dataset(batch, shuffle=True, seed=0, class_weights=weights).repeat(),
    }


def timed(model, data, steps: int) -> float:
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    config = load_config(REPO / "configs" / "fer2013-small_cnn-v3.yaml",
                         [f"train.batch_size={args.batch_size}", "data.ferplus_blend=0"])
    memory = load_splits(f"fer2013:{CSV}")["train"]
    folder_root = Path(tempfile.mkdtemp(prefix="emodet-stream-bench-"))
    try:
        write_folder(memory, folder_root)
        sources = feeds(config, memory, folder_root)
        with dtype_policy(config.train.precision):
            model = build_from_config(config.model, memory.class_names, seed=0, source_size=48)
            compile_model(model, config.train, 1e-3, 0)
            for data in sources.values():
                timed(model, data, 10)  # warm-up: tracing, shuffle buffers filled
            seconds = {name: [] for name in sources}
            names = list(sources)
            for r in range(args.repeats):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    seconds[name].append(timed(model, sources[name], args.steps))
    finally:
        shutil.rmtree(folder_root, ignore_errors=True)
    report(seconds, args)


def report(seconds: dict, args) -> None:
    images = args.steps * args.batch_size
    base = images / statistics.median(seconds["memory"])
    print(f"training throughput, bundled recipe (small_cnn 48 px, mixed_bfloat16), batch {args.batch_size}, "
          f"{args.steps} steps x {args.repeats} repeats, FER2013 Training, {os.cpu_count()} CPUs")
    print(f"{'feed':<15} {'images/s (median)':>18} {'runs':>28} {'x memory':>9}")
    for name, runs in seconds.items():
        rate = images / statistics.median(runs)
        spread = ", ".join(f"{images / s:.0f}" for s in runs)
        print(f"{name:<15} {rate:>18.1f} {spread:>28} {rate / base:>8.2f}x")


if __name__ == "__main__":
    main()
