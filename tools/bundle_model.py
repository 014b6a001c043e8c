"""Package a run's best model as the bundled default model.

    python tools/bundle_model.py RUN_DIR             # a finished run (best.keras)
    python tools/bundle_model.py RUN_DIR --partial   # a running one: last.keras + best.weights.h5
    python tools/bundle_model.py student.keras       # a model file (what tools/gpu/train.py returns)

Saves the inference graph (no augmentation layers, no optimizer, float32) into
src/emodet/assets/models/ under bundled.MODEL_FILE, evaluates it on FER2013 PublicTest (the
validation split, where models are chosen) and on CK+48 (cross-dataset, never trained on), and
prints the sha256 to record in src/emodet/bundled.py. Also writes the model's prediction profile on
PublicTest beside it (the default reference of ``emodet drift``). PrivateTest is reported by
``python benchmarks/accuracy.py bundled --final``, once, for the model chosen here.
"""

import argparse
import hashlib
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from crossdataset import per_sequence  # noqa: E402

from emodet.bundled import MODEL_FILE, PROFILE_FILE  # noqa: E402
from emodet.data import load_split  # noqa: E402
from emodet.data.folder import load_folder  # noqa: E402
from emodet.evaluation.drift import profile_from_probs  # noqa: E402
from emodet.evaluation.metrics import evaluate  # noqa: E402
from emodet.models.classifier import inference_model, load_model  # noqa: E402

SHARED = Path(os.environ.get("EMODET_SHARED", REPO.parent / "shared"))

parser = argparse.ArgumentParser()
parser.add_argument("run_dir", type=Path, help="a run directory, or a .keras model file")
parser.add_argument("--partial", action="store_true", help="take the best epoch so far of a run still training")
args = parser.parse_args()

if args.partial:
    model = load_model(args.run_dir / "last.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.load_weights(args.run_dir / "best.weights.h5")
else:
    model = load_model(args.run_dir if args.run_dir.is_file() else args.run_dir / "best.keras")
target = REPO / "src" / "emodet" / "assets" / "models" / MODEL_FILE
target.parent.mkdir(parents=True, exist_ok=True)
inference_model(model).save(target)
bundled = load_model(target)
public = evaluate(bundled, load_split(f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}", "val"))
ckplus = evaluate(bundled, load_folder(SHARED / "data" / "ckplus48", 48, 0.0, 0.0, seed=0)["train"], drop_unknown=True)
profile_from_probs(public.class_names, public.probs).save(target.with_name(PROFILE_FILE))
print(public.format_table())
print(ckplus.format_table())
sequences = per_sequence(ckplus)
print(f"CK+48 per sequence: accuracy {sequences.accuracy:.4f}, macro-F1 {sequences.averaged('macro')['f1']:.4f}")
print(f"{target}: {target.stat().st_size / 1e6:.1f} MB")
print(f'MODEL_SHA256 = "{hashlib.sha256(target.read_bytes()).hexdigest()}"')
