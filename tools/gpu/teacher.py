"""Rebuild the teacher that tools/gpu/train.py returned as float16 weights into a ``.keras`` file.

    python tools/gpu/teacher.py teacher.npz teacher.keras

The architecture comes from ``configs/gpu-wide_cnn-teacher.yaml``; the file then evaluates,
ensembles and distils like any emodet model (``python benchmarks/accuracy.py teacher.keras``).
"""

import argparse
from pathlib import Path

import numpy as np

from emodet.config import load_config
from emodet.labels import FER7
from emodet.models.classifier import build_from_config

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    config = load_config(REPO / "configs" / "gpu-wide_cnn-teacher.yaml")
    model = build_from_config(config.model, FER7, source_size=48)
    stored = np.load(args.weights)
    model.set_weights([stored[key].astype(np.float32) for key in sorted(stored.files)])
    model.save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
