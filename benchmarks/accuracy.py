"""Accuracy of candidate models on FER2013: PublicTest by default, PrivateTest only with --final.

    python benchmarks/accuracy.py bundled runs/NAME/best.keras fer [--tta]     # choosing: PublicTest
    python benchmarks/accuracy.py bundled --final                              # the final report

FER2013's protocol: models and settings are chosen on PublicTest (``val``); PrivateTest
(``test``) is looked at once, for the model already chosen. So the default prints validation
numbers only, and ``--final`` adds PrivateTest and its de-duplicated subset (PrivateTest images
whose pixels do not also occur in Training). Candidates: see candidates.py (``bundled``, a
``.keras``/``.onnx``/``.tflite`` file, ``fer``, or ``A+B`` averages). ``--json FILE`` writes
every report. Each model after the first also gets the share of PublicTest faces on which it
predicts the first model's class (``same as 1st``): how far an export (int8, TFLite) or a variant
strays from the model it was made from, beyond what accuracy shows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from candidates import evaluate_candidate  # noqa: E402

from emodet.data import load_splits  # noqa: E402
from emodet.evaluation.metrics import DEDUPLICATED  # noqa: E402
from emodet.inference.tta import TTA_MODES, tta_label  # noqa: E402

SHARED = Path(os.environ.get("EMODET_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DEFAULT_DATA = SHARED / "data" / "fer2013" / "fer2013.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="bundled, fer, a .keras/.onnx/.tflite path, or A+B")
    parser.add_argument("--data", default=f"fer2013:{DEFAULT_DATA}")
    parser.add_argument("--final", action="store_true",
                        help="also report PrivateTest (only for the model already chosen on PublicTest)")
    parser.add_argument("--tta", action="store_true",
                        help="also report with test-time augmentation: flip, then ten crops (emodet.inference.tta)")
    parser.add_argument("--json", type=Path, help="write all reports to this JSON file")
    args = parser.parse_args()

    splits = load_splits(args.data)
    names = ("val", "test") if args.final else ("val",)
    rows, reports = [], {}
    for name in args.models:
        for tta in ((None, *TTA_MODES) if args.tta else (None,)):
            started = time.perf_counter()
            results = {split: evaluate_candidate(name, splits[split], tta) for split in names}
            label = name + (f" +{tta_label(tta)}" if tta else "")
            reports[label] = {split: r.to_dict() for split, r in results.items()}
            rows.append((label, results, time.perf_counter() - started))
    _print_table(rows, splits, args.final)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))


def _print_table(rows, splits, final: bool) -> None:
    width = max([len("model")] + [len(row[0]) for row in rows])
    test = splits["test"]
    columns = f"{'PublicTest':>10} {'val macro-F1':>12} {'same as 1st':>11}"
    if final:
        columns += f" {'PrivateTest':>11} {'Private dedup':>13} {'test macro-F1':>13}"
    print(f"FER2013 accuracy; PublicTest {len(splits['val'])} images"
          + (f", PrivateTest {len(test)}, PrivateTest without Training duplicates "
             f"{len(test) - int(test.in_train.sum())}" if final else " (choose here; --final adds PrivateTest)"))
    header = f"{'model':<{width}} {columns} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    first = rows[0][1]["val"].y_pred
    for label, results, seconds in rows:
        val = results["val"]
        same = float(np.mean(val.y_pred == first))
        line = f"{label:<{width}} {val.accuracy:10.4f} {val.averaged('macro')['f1']:12.4f} {same:11.4f}"
        if final:
            t = results["test"]
            line += f" {t.accuracy:11.4f} {t.subsets[DEDUPLICATED].accuracy:13.4f} {t.averaged('macro')['f1']:13.4f}"
        print(f"{line} {seconds:8.1f}")


if __name__ == "__main__":
    main()
