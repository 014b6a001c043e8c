"""Check that training, evaluation and save/load run on the current Keras backend.

    KERAS_BACKEND=jax python tools/check_backend.py      # with jax installed
    KERAS_BACKEND=torch python tools/check_backend.py    # with torch installed

Trains MobileNetV2 (ImageNet weights) for one epoch per stage on 600 real FER2013 rows, evaluates,
saves and reloads the model, and prints what it saw. Exits non-zero on any failure.
"""

import os
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np

from emodet.config import TrainConfig
from emodet.data import load_splits
from emodet.evaluation import evaluate
from emodet.models import build_model, load_model
from emodet.training import fit

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMODET_SHARED", REPO.parent / "shared")) / "data" / "fer2013" / "fer2013.csv.gz"

print(f"Keras {keras.__version__} on the {keras.backend.backend()} backend")
splits = load_splits(f"fer2013:{DATA}")
train, val = splits["train"].stratified_sample(600, 0), splits["val"].stratified_sample(200, 1)
run_dir = Path(tempfile.mkdtemp())
result = fit(build_model("mobilenet_v2", train.class_names, image_size=48), train, val,
             TrainConfig(head_epochs=1, finetune_epochs=1, batch_size=50), run_dir)
print("epochs (stage, val accuracy):", [(row["stage"], round(row["val_accuracy"], 3)) for row in result.history])
report = evaluate(result.model, val)
result.model.save(run_dir / "m.keras")
faces = np.repeat(val.images[:8], 3, axis=-1)
difference = np.abs(load_model(run_dir / "m.keras").predict(faces, verbose=0) - result.model.predict(faces, verbose=0))
print(f"accuracy {report.accuracy:.3f}; save/load max difference {difference.max():.2e}")
sys.exit(0 if difference.max() < 1e-5 and [r["stage"] for r in result.history] == [1, 2] else 1)
