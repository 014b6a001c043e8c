"""How much does a model's answer move when a face's crop moves a little?

    python benchmarks/alignment_sensitivity.py [--model bundled] [--rafdb FRAMED_DIR] [--shift 0.03]
        [--scale 0.05] [--turn 3] [--views 4]

Each validation face (FER2013 PublicTest; with ``--rafdb``, also RAF-DB's ``val/`` faces as
``tools/frame_faces.py`` framed them) is moved by a seeded random similarity transform of at most
``--shift`` of its side, ``--scale`` and ``--turn`` degrees (edges repeated), the size of the
disagreements between two landmark detections of the same face, and classified again. Printed per
set: accuracy unmoved and moved, and how often the moved face gets the class of the unmoved one.
A model that changes its answer often under such small moves loses accuracy wherever the deployed
path aligns a face slightly differently than its training data was aligned (docs/MODEL_CARD.md,
pipeline fidelity).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from emodet.data import load_split  # noqa: E402
from emodet.data.classmatch import match_classes  # noqa: E402
from emodet.inference.loading import load_classifier  # noqa: E402

SHARED = Path(os.environ.get("EMODET_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def moved(images: np.ndarray, rng: np.random.Generator, shift: float, scale: float, turn: float) -> np.ndarray:
    """Each image moved by its own random shift, scale and turn, edges repeated."""
    out = np.empty_like(images)
    side = images.shape[1]
    for i, image in enumerate(images):
        matrix = cv2.getRotationMatrix2D((side / 2, side / 2), rng.uniform(-turn, turn), 1 + rng.uniform(-scale, scale))
        matrix[:, 2] += rng.uniform(-shift, shift, 2) * side
        warped = cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[i] = warped.reshape(image.shape)
    return out


def measure(name: str, classifier, data, args) -> None:
    rng = np.random.default_rng(0)
    plain = classifier.predict_images(data.images).argmax(axis=1)
    accuracy, same = [], []
    for _ in range(args.views):
        probs = classifier.predict_images(moved(data.images, rng, args.shift, args.scale, args.turn))
        accuracy.append(np.mean(probs.argmax(axis=1) == data.labels))
        same.append(np.mean(probs.argmax(axis=1) == plain))
    print(f"{name:<10} {len(data):6d} {np.mean(plain == data.labels):9.4f} {np.mean(accuracy):9.4f} "
          f"{np.mean(same):11.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled", help="bundled, or a .keras/.onnx/.tflite file")
    parser.add_argument("--rafdb", type=Path, help="RAF-DB framed by tools/frame_faces.py")
    parser.add_argument("--shift", type=float, default=0.03, help="largest shift, a fraction of the side")
    parser.add_argument("--scale", type=float, default=0.05, help="largest change of size, a fraction")
    parser.add_argument("--turn", type=float, default=3.0, help="largest turn, degrees")
    parser.add_argument("--views", type=int, default=4, help="random moves per face (averaged)")
    args = parser.parse_args()
    classifier = load_classifier(None if args.model == "bundled" else args.model)
    size = classifier.image_size
    sets = {"fer2013": load_split(f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}", "val", image_size=size)}
    if args.rafdb:
        sets["rafdb"] = load_split(f"folder:{args.rafdb}", "val", image_size=size)
    print(f"model {args.model}; moves of at most {args.shift:.0%} shift, {args.scale:.0%} scale, {args.turn:g} "
          f"degrees; {args.views} per face")
    print(f"{'set':<10} {'faces':>6} {'unmoved':>9} {'moved':>9} {'same class':>11}")
    for name, data in sets.items():
        measure(name, classifier, match_classes(data, classifier.class_names), args)


if __name__ == "__main__":
    sys.exit(main())
