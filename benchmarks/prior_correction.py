"""Does shifting the model's class priors after training lift the weak classes on other faces?

    python benchmarks/prior_correction.py [MODEL]    # bundled by default

A model trained on FER2013 has learnt its class frequencies (happy 25%, disgust 1.5%); datasets
from elsewhere (CK+48, most photo collections) have others. Post-hoc logit adjustment subtracts
``tau * log(prior)`` from the model's log-probabilities, one strength for all classes; a bias
per class is the most a fixed correction can do. Both are chosen here on FER2013 PublicTest
(tau by macro-F1 over a grid; the per-class biases by coordinate ascent on macro-F1), and CK+48
frames, never used for the choice, show whether it carries over to faces from another source.
PublicTest's mean recall (balanced accuracy) is printed too: the accuracy it predicts on a set
with equal classes.
A correction is a constant added to the classifier's bias, so it would cost nothing at inference.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import DEFAULT_DATA as FER2013  # noqa: E402
from candidates import evaluate_candidate  # noqa: E402
from crossdataset import DEFAULT_DATA as CKPLUS  # noqa: E402

from emodet.data import load_splits  # noqa: E402
from emodet.data.folder import load_folder  # noqa: E402
from emodet.evaluation.metrics import EvaluationReport  # noqa: E402

TAUS = np.round(np.arange(0.0, 1.01, 0.1), 1)
BIAS_GRID = np.arange(-1.0, 1.01, 0.05)


def shifted(report: EvaluationReport, bias: np.ndarray) -> EvaluationReport:
    """The report with ``bias`` added to every row's log-probabilities (renormalised)."""
    logits = np.log(np.clip(report.probs, 1e-12, None)) + bias
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return EvaluationReport(report.class_names, report.y_true, probs / probs.sum(axis=1, keepdims=True), report.name)


def macro_f1(report: EvaluationReport) -> float:
    return report.averaged("macro")["f1"]


def per_class_bias(report: EvaluationReport, sweeps: int = 3) -> np.ndarray:
    """Biases (mean zero) that maximise ``report``'s macro-F1, one class at a time over BIAS_GRID."""
    bias = np.zeros(len(report.class_names))
    for _ in range(sweeps):
        for k in range(len(bias)):
            def score(value, k=k):
                return macro_f1(shifted(report, np.where(np.arange(len(bias)) == k, value, bias)))

            bias[k] = max(BIAS_GRID, key=score)
        bias -= bias.mean()
    return bias


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default="bundled", help="bundled or a .keras/.onnx/.tflite path")
    args = parser.parse_args()

    splits = load_splits(f"fer2013:{FER2013}")
    counts = np.bincount(splits["train"].labels, minlength=len(splits["train"].class_names))
    log_prior = np.log(counts / counts.sum())
    public = evaluate_candidate(args.model, splits["val"])
    ckplus = load_folder(CKPLUS, 48, 0.0, 0.0, seed=0)["train"]
    ckplus = evaluate_candidate(args.model, ckplus.take(np.arange(len(ckplus)), name="CK+48"))

    rows = [(f"tau {tau:.1f}", -tau * log_prior) for tau in TAUS]
    best_tau = max(rows, key=lambda row: macro_f1(shifted(public, row[1])))[0]
    rows.append(("per-class bias", per_class_bias(public)))
    _print_table(rows, public, ckplus, best_tau)


def _print_table(rows, public: EvaluationReport, ckplus: EvaluationReport, best_tau: str) -> None:
    present = ckplus.present_classes
    names = [ckplus.class_names[k][:8] for k in present]
    print(f"PublicTest: {len(public.y_true)} faces, FER2013's labels; CK+48: {len(ckplus.y_true)} frames, "
          f"recall per class; the strength chosen on PublicTest macro-F1: {best_tau}")
    print(f"{'correction':<16} {'Public acc':>10} {'recall':>7} {'macro-F1':>8}   {'CK+ acc':>7} {'macro-F1':>8}   "
          + " ".join(f"{n:>8}" for n in names))
    for label, bias in rows:
        p, c = shifted(public, bias), shifted(ckplus, bias)
        recalls = [c.per_class[c.class_names[k]]["recall"] for k in present]
        public_cells = f"{p.accuracy:>10.4f} {p.averaged('macro')['recall']:>7.4f} {macro_f1(p):>8.4f}"
        print(f"{label:<16} {public_cells}   {c.accuracy:>7.4f} {macro_f1(c):>8.4f}   "
              + " ".join(f"{r:>8.3f}" for r in recalls))
    print("per-class bias:", " ".join(f"{n} {b:+.2f}" for n, b in zip(public.class_names, rows[-1][1])))


if __name__ == "__main__":
    main()
