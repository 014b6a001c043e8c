"""Package a run's best model as the bundled default model: the Keras file and its ONNX export.

    python tools/bundle_model.py RUN_DIR             # a finished run (best.keras)
    python tools/bundle_model.py RUN_DIR --partial   # a running one: last.keras + best.weights.h5
    python tools/bundle_model.py student.keras       # a model file (what tools/gpu/train.py returns)
    python tools/bundle_model.py --onnx-only         # export the bundled Keras file to ONNX again

Set bundled.MODEL_VERSION first (it goes into the ONNX metadata). Saves the inference graph (no
augmentation layers, no optimizer, float32) into src/emodet/assets/models/ under
bundled.MODEL_FILE, exports it to ONNX (float32) as bundled.ONNX_FILE, checks that both give the
same probabilities on FER2013 PublicTest within bundled.ONNX_TOLERANCE, evaluates it on PublicTest
(the validation split, where models are chosen) and on CK+48 (cross-dataset, never trained on), and
prints the two sha256 checksums to record in src/emodet/bundled.py. Also writes the model's prediction profile on
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

import numpy as np  # noqa: E402
from crossdataset import per_sequence  # noqa: E402

from emodet.bundled import MODEL_FILE, MODEL_VERSION, ONNX_FILE, ONNX_TOLERANCE, PROFILE_FILE  # noqa: E402
from emodet.data import load_split  # noqa: E402
from emodet.data.folder import load_folder  # noqa: E402
from emodet.evaluation.drift import profile_from_probs  # noqa: E402
from emodet.evaluation.metrics import evaluate  # noqa: E402
from emodet.exporter import export  # noqa: E402
from emodet.inference.runtime import OnnxClassifier  # noqa: E402
from emodet.models.classifier import inference_model, load_model  # noqa: E402

SHARED = Path(os.environ.get("EMODET_SHARED", REPO.parent / "shared"))

parser = argparse.ArgumentParser()
parser.add_argument("run_dir", type=Path, nargs="?", help="a run directory, or a .keras model file")
parser.add_argument("--partial", action="store_true", help="take the best epoch so far of a run still training")
parser.add_argument("--onnx-only", action="store_true", help="keep the bundled Keras file; export it to ONNX again")
args = parser.parse_args()
if not args.run_dir and not args.onnx_only:
    parser.error("give a run directory or model file, or --onnx-only")

target = REPO / "src" / "emodet" / "assets" / "models" / MODEL_FILE
if args.onnx_only:
    pass
elif args.partial:
    model = load_model(args.run_dir / "last.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.load_weights(args.run_dir / "best.weights.h5")
else:
    model = load_model(args.run_dir if args.run_dir.is_file() else args.run_dir / "best.keras")
if not args.onnx_only:
    target.parent.mkdir(parents=True, exist_ok=True)
    inference_model(model).save(target)
bundled = load_model(target)
onnx_target = export(target, target.with_name(ONNX_FILE), "onnx", metadata={"model_version": MODEL_VERSION})
public_split = load_split(f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}", "val")
public, public_onnx = evaluate(bundled, public_split), evaluate(OnnxClassifier(onnx_target), public_split)
gap = float(np.abs(public.probs - public_onnx.probs).max())
print(f"ONNX against Keras on PublicTest: largest probability difference {gap:.2e}, accuracy "
      f"{public_onnx.accuracy:.4f} against {public.accuracy:.4f}")
if gap > ONNX_TOLERANCE:
    sys.exit(f"error: the ONNX export differs from the Keras model by more than {ONNX_TOLERANCE}")
ckplus = evaluate(bundled, load_folder(SHARED / "data" / "ckplus48", 48, 0.0, 0.0, seed=0)["train"], drop_unknown=True)
profile_from_probs(public.class_names, public.probs).save(target.with_name(PROFILE_FILE))
print(public.format_table())
print(ckplus.format_table())
sequences = per_sequence(ckplus)
print(f"CK+48 per sequence: accuracy {sequences.accuracy:.4f}, macro-F1 {sequences.averaged('macro')['f1']:.4f}")
for path, constant in ((target, "MODEL_SHA256"), (onnx_target, "ONNX_SHA256")):
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    print(f'{constant} = "{hashlib.sha256(path.read_bytes()).hexdigest()}"')
