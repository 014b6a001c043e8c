"""Grow a trained emodet model into a wider network that starts out computing the same thing.

    python tools/widen_model.py run4.keras wide.keras --backbone small_cnn_top512

Net2WiderNet (emodet.models.widening): every new filter copies a trained one and the layer after
it shares the copied channel's weights among the copies, so the wider model starts from the
trained one's accuracy instead of from random weights; then train it as any continued model:
``emodet train ... --set model.backbone=small_cnn_top512 --set model.weights=wide.keras``.
Prints how far the two models' probabilities are apart on FER2013 PublicTest faces (a little,
from the noise that lets the copies learn apart; ``--noise 0`` for none).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = Path(os.environ.get("EMODET_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def main() -> None:
    from emodet.models.widening import COPY_NOISE

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="the trained .keras model")
    parser.add_argument("output", type=Path, help="the wider model, a .keras file")
    parser.add_argument("--backbone", required=True, help="the wider plain backbone, e.g. small_cnn_top512")
    parser.add_argument("--noise", type=float, default=COPY_NOISE,
                        help=f"noise on the copied filters, relative to their layer's weights (default {COPY_NOISE})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", default=f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}",
                        help="faces to compare the two models on (their validation split; '' to skip)")
    args = parser.parse_args()
    if args.output.suffix != ".keras":
        sys.exit(f"error: the output must be a .keras file, got {args.output}")

    from emodet.errors import EmodetError
    from emodet.models import load_model
    from emodet.models.widening import widen

    try:
        model = load_model(args.model)
        wide = widen(model, args.backbone, seed=args.seed, noise=args.noise)
    except EmodetError as error:
        sys.exit(f"error: {error}")
    wide.save(args.output)
    print(f"{args.output}: {args.backbone}, {wide.count_params():,} parameters (from {model.count_params():,})")
    if args.check:
        try:
            _compare(model, wide, args.check)
        except EmodetError as error:  # the wider model is saved; only the check could not run
            sys.exit(f"error: the check could not read its faces: {error}; --check '' skips it")


def _compare(model, wide, data: str) -> None:
    import numpy as np

    from emodet.data import load_splits
    from emodet.evaluation.metrics import evaluate

    faces = load_splits(data)["val"]
    before, after = evaluate(model, faces), evaluate(wide, faces)
    print(f"on {len(faces)} validation faces of {data}: same class {np.mean(before.y_pred == after.y_pred):.2%}, "
          f"largest probability difference {float(np.abs(before.probs - after.probs).max()):.2g}, "
          f"accuracy {before.accuracy:.2%} -> {after.accuracy:.2%}")


if __name__ == "__main__":
    main()
