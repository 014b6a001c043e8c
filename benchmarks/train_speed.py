"""Training throughput (images per second) of emodet's recipes under float32 and mixed_bfloat16.

    python benchmarks/train_speed.py [--steps 20] [--repeats 3] [--backbones small_cnn mobilenet_v2]

Each backbone is built as emodet trains it (augmentation inside the model, the bundled recipe's
input size) under each dtype policy, then timed on real FER2013 Training batches of 64: the
median over ``--repeats`` runs of ``--steps`` optimizer steps after two warm-up steps, in one
process, so the ratio column compares like with like. Nothing else should run meanwhile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from emodet.data import load_split  # noqa: E402
from emodet.data.images import to_rgb_batch  # noqa: E402
from emodet.models import build_model  # noqa: E402
from emodet.training.precision import dtype_policy  # noqa: E402

SHARED = Path(os.environ.get("EMODET_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SIZES = {"small_cnn": 48, "mobilenet_v2": 64}


def images_per_second(backbone: str, policy: str, batches: list, steps: int) -> float:
    with dtype_policy(policy):
        keras.utils.set_random_seed(0)
        model = build_model(backbone, weights=None, image_size=SIZES.get(backbone, 48), augment=1.0, augment_blur=1.0)
        model.compile(keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy(label_smoothing=0.05))
        for images, targets in batches[:2]:
            model.train_on_batch(images, targets)
        started = time.perf_counter()
        for i in range(steps):
            images, targets = batches[i % len(batches)]
            model.train_on_batch(images, targets)
        return steps * len(batches[0][0]) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backbones", nargs="+", default=["small_cnn", "mobilenet_v2"])
    args = parser.parse_args()
    train = load_split(f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}", "train")
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(8):
        rows = rng.choice(len(train), 64, replace=False)
        batches.append((to_rgb_batch(train.images[rows]), train.targets[rows]))
    print(f"machine: {os.cpu_count()} CPU cores; batch 64 of real FER2013 faces; median of {args.repeats} runs "
          f"of {args.steps} steps")
    print(f"{'backbone':<14} {'policy':<16} {'images/s':>9} {'x float32':>10} {'~epoch s':>9}")
    for backbone in args.backbones:
        base = None
        for policy in ("float32", "mixed_bfloat16"):
            rate = statistics.median(images_per_second(backbone, policy, batches, args.steps)
                                     for _ in range(args.repeats))
            base = base or rate
            print(f"{backbone:<14} {policy:<16} {rate:9.1f} {rate / base:9.2f}x {len(train) / rate:9.0f}")


if __name__ == "__main__":
    main()
