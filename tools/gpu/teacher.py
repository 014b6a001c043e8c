"""Turn the teacher that tools/gpu/train.py returned (``teacher.npz``) back into a ``.keras`` file.

    python tools/gpu/teacher.py teacher.npz teacher.keras

The file holds the teacher's inference graph and its weights in float16; the model written here
computes in float32 and evaluates, ensembles and distils like any emodet model
(``python benchmarks/accuracy.py teacher.keras bundled``).
"""

import argparse
from pathlib import Path

import keras
import numpy as np

import emodet.models.layers  # noqa: F401  (registers emodet's layers for the architecture)
from emodet.models.classifier import describe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    stored = np.load(args.weights)
    model = keras.models.model_from_json(str(stored["architecture"]))
    model.set_weights([stored[key].astype(np.float32) for key in sorted(stored.files) if key.startswith("w")])
    model.save(args.output)
    print(f"wrote {args.output}: {describe(model).backbone}, {model.count_params():,} parameters")


if __name__ == "__main__":
    main()
