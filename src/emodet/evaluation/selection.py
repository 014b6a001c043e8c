"""The one rule that chooses between candidate models (epochs, recipes, ablations) across datasets.

No single validation set may choose: a model tuned to FER2013's PublicTest can lose whole classes
on faces from elsewhere. Every candidate is scored on every validation set (FER2013 PublicTest,
a part of RAF-DB's ``train/``, CK+48 by subject, ...), and the score is

- the **mean macro-F1 over the sets** (each set counts once, whatever its size; macro-F1 so that
  rare classes such as disgust and fear count as much as happy), provided that
- the **worst class recall on any set** is at least :data:`RECALL_FLOOR`. A candidate below the
  floor ranks under every candidate above it (a model that collapses a class somewhere loses to one
  that does not, however good its mean); among themselves such candidates rank by their mean
  macro-F1 too, so that early epochs of a short run, all below the floor, are still told apart by
  how well they do overall rather than by their single weakest class.

Training selects its epoch by this score (``train.monitor: val_score``), KerasTuner its trials,
``benchmarks/rank_candidates.py`` the bundled model; ``emodet compare`` prints it over the sets it
compares. Choose on validation sets only: test sets are read once, after the choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: The lowest recall any class may have on any validation set before a candidate is ranked as
#: having lost that class (30%: above chance for seven classes by a wide margin, and the floor the
#: project asks of every class on collections it has never seen).
RECALL_FLOOR = 0.30


@dataclass(frozen=True)
class SetScores:
    """A candidate's scores on one validation set."""

    images: int
    accuracy: float
    macro_f1: float
    recalls: dict[str, float]  # per class present in the set

    @property
    def worst_recall(self) -> float:
        return min(self.recalls.values()) if self.recalls else 0.0

    @property
    def worst_class(self) -> str:
        return min(self.recalls, key=self.recalls.get) if self.recalls else ""

    def to_dict(self) -> dict:
        return {"images": self.images, "accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "worst_recall": self.worst_recall, "worst_class": self.worst_class, "recalls": self.recalls}


def set_scores(y_true, y_pred, class_names) -> SetScores:
    """Accuracy, macro-F1 and per-class recall of predicted class indices against true ones.

    Macro-F1 and recalls cover the classes present in ``y_true`` (CK+ has no neutral faces: a
    class a set does not hold can be neither recalled nor missed there).
    """
    from sklearn.metrics import f1_score, recall_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    present = np.unique(y_true)
    if len(present) == 0:
        return SetScores(0, 0.0, 0.0, {})
    recalls = recall_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    return SetScores(
        images=int(len(y_true)),
        accuracy=float(np.mean(y_true == y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        recalls={class_names[k]: float(r) for k, r in zip(present, recalls)},
    )


def selection_score(scores: Mapping[str, SetScores], floor: float = RECALL_FLOOR) -> float:
    """The candidate's score over all sets: higher is better (see the module docstring).

    In ``[0, 1]`` (the mean macro-F1) when every class on every set reaches ``floor``; otherwise
    ``mean macro-F1 - 1``, in ``[-1, 0)``, below every such score.
    """
    if not scores:
        raise ValueError("selection_score needs the scores of at least one validation set")
    mean_f1 = float(np.mean([s.macro_f1 for s in scores.values()]))
    return mean_f1 if min(s.worst_recall for s in scores.values()) >= floor else mean_f1 - 1.0


def explain(scores: Mapping[str, SetScores], floor: float = RECALL_FLOOR) -> str:
    """One line saying why a candidate scores what it does."""
    score = selection_score(scores, floor)
    name, worst = min(((n, s) for n, s in scores.items()), key=lambda item: item[1].worst_recall)
    mean_f1 = float(np.mean([s.macro_f1 for s in scores.values()]))
    if score < 0:
        return (f"score {score:+.3f}: {worst.worst_class} recall on {name} is {worst.worst_recall:.1%}, below the "
                f"{floor:.0%} floor, so it ranks below every candidate that meets it (then by its mean macro-F1, "
                f"{mean_f1:.3f} over {len(scores)} set(s), minus 1)")
    return (f"score {score:.3f}: mean macro-F1 over {len(scores)} set(s); worst class recall "
            f"{worst.worst_recall:.1%} ({worst.worst_class} on {name}) meets the {floor:.0%} floor")


def format_table(candidates: Mapping[str, Mapping[str, SetScores]], floor: float = RECALL_FLOOR) -> str:
    """A text table of candidates (rows, best first) by set: accuracy / macro-F1 / worst recall, and the score."""
    sets = list(dict.fromkeys(name for scores in candidates.values() for name in scores))
    width = max(9, *(len(c) for c in candidates))
    header = f"{'candidate':<{width}} " + " ".join(f"{s[:24]:>24}" for s in sets) + f" {'score':>7}"
    lines = [header, f"{'':<{width}} " + " ".join(f"{'acc / F1 / worst':>24}" for _ in sets)]
    ranked = sorted(candidates.items(), key=lambda item: selection_score(item[1], floor), reverse=True)
    for name, scores in ranked:
        cells = [f"{scores[s].accuracy:.3f} / {scores[s].macro_f1:.3f} / {scores[s].worst_recall:.2f}"
                 if s in scores else "-" for s in sets]
        lines.append(f"{name:<{width}} " + " ".join(f"{c:>24}" for c in cells)
                     + f" {selection_score(scores, floor):+7.3f}")
    return "\n".join(lines)
