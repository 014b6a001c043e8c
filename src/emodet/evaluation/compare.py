"""Is a candidate model really better than the current one? Paired tests on the same images.

Both models are scored on the same fixed sets: the new data's test split and a reference set
from the old data (FER2013 PublicTest by default; PrivateTest stays the final report). On each,
the difference in accuracy gets an exact McNemar test (only the images on which the two models
disagree carry information) and a paired bootstrap 95% confidence interval, so a one-point change
on 300 images is not mistaken for progress. :func:`promotion_verdict` applies the rule: better on
the new data (significantly), and not worse on the reference by more than a tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedComparison:
    name: str
    images: int
    current_accuracy: float
    candidate_accuracy: float
    candidate_only: int  # images the candidate gets right and the current model wrong
    current_only: int  # and the other way round
    p_value: float  # exact two-sided McNemar test
    ci_low: float  # paired bootstrap 95% interval of candidate - current accuracy
    ci_high: float

    @property
    def delta(self) -> float:
        return self.candidate_accuracy - self.current_accuracy

    def to_dict(self) -> dict:
        return {**self.__dict__, "delta": self.delta}


def paired_comparison(name: str, y_true, current_pred, candidate_pred, *, resamples: int = 2000,
                      seed: int = 0) -> PairedComparison:
    """Compare two models' predicted classes on the same images (``y_true`` their true classes)."""
    from scipy.stats import binomtest

    y_true, current_pred, candidate_pred = map(np.asarray, (y_true, current_pred, candidate_pred))
    current_ok, candidate_ok = current_pred == y_true, candidate_pred == y_true
    wins, losses = int(np.sum(candidate_ok & ~current_ok)), int(np.sum(current_ok & ~candidate_ok))
    p_value = 1.0 if wins + losses == 0 else float(binomtest(wins, wins + losses, 0.5).pvalue)
    rng = np.random.default_rng(seed)
    diff = candidate_ok.astype(np.float64) - current_ok.astype(np.float64)
    samples = rng.integers(0, len(diff), size=(resamples, len(diff)))
    deltas = diff[samples].mean(axis=1) if len(diff) else np.zeros(1)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return PairedComparison(name, int(len(y_true)), float(current_ok.mean()), float(candidate_ok.mean()),
                            wins, losses, p_value, float(low), float(high))


def promotion_verdict(new: PairedComparison, reference: PairedComparison, *, tolerance: float = 0.01,
                      alpha: float = 0.05) -> tuple[bool, str]:
    """(promote?, why): better on the new data at significance ``alpha``, and not worse on the
    reference than ``tolerance`` (accuracy, 0.01 = one point)."""
    if not (new.delta > 0 and new.p_value < alpha):
        return False, (f"not better on {new.name}: {100 * new.delta:+.2f} points (p = {new.p_value:.3g}; "
                       f"needs a gain with p < {alpha})")
    if reference.delta < -tolerance:
        return False, (f"worse on {reference.name} by {-100 * reference.delta:.2f} points, more than the "
                       f"{100 * tolerance:g}-point tolerance")
    return True, (f"better on {new.name} ({100 * new.delta:+.2f} points, p = {new.p_value:.3g}) and within "
                  f"{100 * tolerance:g} point(s) on {reference.name} ({100 * reference.delta:+.2f})")


def format_comparisons(rows: list[PairedComparison]) -> str:
    width = max(12, *(len(r.name) for r in rows))
    lines = [f"{'set':<{width}} {'images':>6} {'current':>8} {'candidate':>9} {'delta':>7} {'95% CI':>17} "
             f"{'+/-':>9} {'McNemar p':>9}"]
    for r in rows:
        lines.append(f"{r.name:<{width}} {r.images:6d} {r.current_accuracy:8.4f} {r.candidate_accuracy:9.4f} "
                     f"{100 * r.delta:+7.2f} [{100 * r.ci_low:+6.2f}, {100 * r.ci_high:+6.2f}] "
                     f"{r.candidate_only:4d}/{r.current_only:<4d} {r.p_value:9.3g}")
    return "\n".join(lines)
