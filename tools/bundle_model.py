"""Package a run's best model as a member of the bundled default model.

    python tools/bundle_model.py runs/bundled            # a finished run (best.keras)
    python tools/bundle_model.py runs/bundled --partial  # a running one: last.keras + best.weights.h5

Saves the inference graph (no augmentation layers, no optimizer) into src/emodet/assets/models/
as emodet-fer2013-<backbone>.keras, evaluates it once on FER2013 PrivateTest, and prints the
sha256 and accuracy to record in src/emodet/bundled.py (MEMBERS) and docs/MODEL_CARD.md.
"""

import argparse
import hashlib
import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from emodet.bundled import member_file  # noqa: E402
from emodet.data import load_split  # noqa: E402
from emodet.evaluation.metrics import evaluate  # noqa: E402
from emodet.models.classifier import describe, inference_model, load_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMODET_SHARED", REPO.parent / "shared")) / "data" / "fer2013" / "fer2013.csv.gz"

parser = argparse.ArgumentParser()
parser.add_argument("run_dir", type=Path)
parser.add_argument("--partial", action="store_true", help="take the best epoch so far of a run still training")
args = parser.parse_args()

if args.partial:
    model = load_model(args.run_dir / "last.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.load_weights(args.run_dir / "best.weights.h5")
else:
    model = load_model(args.run_dir / "best.keras")
backbone = describe(model).backbone
target = REPO / "src" / "emodet" / "assets" / "models" / member_file(backbone)
inference_model(model).save(target)
report = evaluate(load_model(target), load_split(f"fer2013:{DATA}", "test"))
print(report.format_table())
print(f"{target}: {target.stat().st_size / 1e6:.1f} MB")
print(f'MEMBERS entry: "{backbone}": "{hashlib.sha256(target.read_bytes()).hexdigest()}"')
print(f"PrivateTest accuracy of this member alone: {report.accuracy:.4f}")
