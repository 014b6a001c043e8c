"""Cross-dataset accuracy on CK+48: faces from another source than FER2013, never trained on.

    python benchmarks/crossdataset.py bundled runs/NAME/best.keras fer [--tta]

CK+48 (``shared/data/ckplus48``) holds the last three frames of 327 posed sequences of 118 lab
subjects. Its classes are matched to the model's by name (anger -> angry, sadness -> sad);
contempt, which FER2013 models do not predict, is left out. Scored per frame and per sequence
(the mean of its frames' probabilities: the honest n, since a sequence's frames are near copies).
Prints accuracy, macro-F1 over the classes present, and every class's recall.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from candidates import evaluate_candidate  # noqa: E402

from emodet.data.folder import load_folder  # noqa: E402
from emodet.evaluation.metrics import EvaluationReport  # noqa: E402
from emodet.inference.tta import TTA_MODES, tta_label  # noqa: E402

SHARED = Path(os.environ.get("EMODET_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DEFAULT_DATA = SHARED / "data" / "ckplus48"


def per_sequence(report: EvaluationReport) -> EvaluationReport:
    """One row per sequence (``S010_004`` of ``S010_004_00000017.png``): its frames' mean probabilities."""
    sequences = np.array(["_".join(Path(str(i)).stem.split("_")[:2]) for i in report.ids])
    names, index = np.unique(sequences, return_inverse=True)
    probs = np.stack([report.probs[index == k].mean(axis=0) for k in range(len(names))])
    labels = np.array([report.y_true[index == k][0] for k in range(len(names))])
    return EvaluationReport(report.class_names, labels, probs, f"{report.name} per sequence", names, tta=report.tta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="bundled, fer, a .keras/.onnx/.tflite path, or A+B")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the CK+48 folder")
    parser.add_argument("--tta", action="store_true",
                        help="also report with test-time augmentation: flip, then ten crops (emodet.inference.tta)")
    parser.add_argument("--json", type=Path, help="write all reports to this JSON file")
    args = parser.parse_args()

    whole = load_folder(args.data, 48, 0.0, 0.0, seed=0)["train"]
    whole = whole.take(np.arange(len(whole)), name="CK+48")
    rows, reports = [], {}
    for name in args.models:
        for tta in ((None, *TTA_MODES) if args.tta else (None,)):
            frames = evaluate_candidate(name, whole, tta)
            sequences = per_sequence(frames)
            label = name + (f" +{tta_label(tta)}" if tta else "")
            reports[label] = {"frames": frames.to_dict(), "sequences": sequences.to_dict()}
            rows += [(label, "frames", frames), (label, "sequences", sequences)]
    _print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))


def _print_table(rows) -> None:
    present = [rows[0][2].class_names[k] for k in rows[0][2].present_classes]
    width = max([len("model")] + [len(row[0]) for row in rows])
    header = (f"{'model':<{width}} {'unit':>9} {'n':>4} {'accuracy':>8} {'macro-F1':>8} "
              + " ".join(f"{name[:8]:>8}" for name in present) + f" {'min recall':>10}")
    print("CK+48 (contempt left out): accuracy, macro-F1 over the classes present, recall per class")
    print(header)
    print("-" * len(header))
    for label, unit, report in rows:
        recalls = [report.per_class[name]["recall"] for name in present]
        print(f"{label:<{width}} {unit:>9} {len(report.y_true):4d} {report.accuracy:8.4f} "
              f"{report.averaged('macro')['f1']:8.4f} " + " ".join(f"{r:8.3f}" for r in recalls)
              + f" {min(recalls):10.3f}")


if __name__ == "__main__":
    main()
