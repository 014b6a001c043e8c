"""Knowing when to re-evaluate without labels: has production output drifted from the model's profile?

Production output (``emodet detect --jsonl``) has no labels, but when the faces change (other
cameras, lighting, people) the mix of predicted classes, the model's confidence and its
uncertainty move. A *profile* records them on the validation split when the model is trained
(:func:`profile_from_probs`); :func:`check_drift` compares a window of detect output with it:

- population stability index (PSI) of the predicted-class distribution (< 0.1 stable,
  0.1-0.25 moderate, > 0.25 large; the usual reading of PSI),
- the change in mean top-1 probability and in mean entropy (in nats).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emodet.errors import DataError

#: Thresholds of the verdict (PSI, absolute change of mean confidence, of mean entropy).
DEFAULT_THRESHOLDS = {"psi": 0.25, "confidence": 0.10, "entropy": 0.25}
_EPS = 1e-4


@dataclass(frozen=True)
class Profile:
    class_names: tuple[str, ...]
    class_share: tuple[float, ...]  # share of predictions per class
    mean_confidence: float
    mean_entropy: float
    faces: int

    def to_dict(self) -> dict:
        return {"class_names": list(self.class_names), "class_share": list(self.class_share),
                "mean_confidence": self.mean_confidence, "mean_entropy": self.mean_entropy, "faces": self.faces}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path


def profile_from_probs(class_names, probs: np.ndarray) -> Profile:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) == 0:
        raise DataError("a drift profile needs at least one face's probabilities")
    counts = np.bincount(probs.argmax(axis=1), minlength=len(class_names))
    entropy = -(probs * np.log(np.clip(probs, 1e-12, None))).sum(axis=1)
    return Profile(tuple(class_names), tuple((counts / counts.sum()).tolist()), float(probs.max(axis=1).mean()),
                   float(entropy.mean()), int(len(probs)))


def load_profile(path: str | Path) -> Profile:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return Profile(tuple(data["class_names"]), tuple(data["class_share"]), float(data["mean_confidence"]),
                       float(data["mean_entropy"]), int(data["faces"]))
    except FileNotFoundError:
        raise DataError(f"drift profile {path} does not exist; every `emodet train` run writes profile.json") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"drift profile {path} is not a valid profile ({exc}); use the profile.json of a run") from None


def probs_from_jsonl(path: str | Path, class_names) -> np.ndarray:
    """Every face's probabilities in an ``emodet detect --jsonl`` file (error records are skipped)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"detect output {path} does not exist; pass the --jsonl file of `emodet detect`")
    rows, bad = [], 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            faces = record.get("faces", [])
            rows += [[float(face["probs"][name]) for name in class_names] for face in faces]
        except (ValueError, KeyError, TypeError, AttributeError):
            bad += 1
            if bad > 10 and not rows:
                raise DataError(f"{path}, line {number}: not emodet detect output (JSON Lines with faces and "
                                "their probs); pass the --jsonl file of `emodet detect`") from None
    if not rows:
        raise DataError(f"{path} holds no faces to compare (empty, only errors, or not emodet detect output)")
    return np.asarray(rows)


@dataclass(frozen=True)
class DriftReport:
    psi: float
    confidence_change: float
    entropy_change: float
    reference: Profile
    window: Profile
    thresholds: dict

    @property
    def drifted(self) -> list[str]:
        """Which measures passed their threshold."""
        out = []
        if self.psi > self.thresholds["psi"]:
            out.append(f"the mix of predicted emotions moved (PSI {self.psi:.3f} > {self.thresholds['psi']})")
        if abs(self.confidence_change) > self.thresholds["confidence"]:
            out.append(f"mean confidence changed by {self.confidence_change:+.3f} "
                       f"(more than {self.thresholds['confidence']})")
        if abs(self.entropy_change) > self.thresholds["entropy"]:
            out.append(f"mean uncertainty (entropy) changed by {self.entropy_change:+.3f} nats "
                       f"(more than {self.thresholds['entropy']})")
        return out

    def verdict(self) -> str:
        if not self.drifted:
            return (f"no drift: {self.window.faces} faces look like the model's validation data "
                    f"(PSI {self.psi:.3f}, confidence {self.confidence_change:+.3f}, "
                    f"entropy {self.entropy_change:+.3f})")
        return "drift: " + "; ".join(self.drifted) + ". Evaluate the model on newly labelled faces from this source."

    def to_dict(self) -> dict:
        return {"drift": bool(self.drifted), "verdict": self.verdict(), "psi": self.psi,
                "confidence_change": self.confidence_change, "entropy_change": self.entropy_change,
                "thresholds": self.thresholds, "reference": self.reference.to_dict(), "window": self.window.to_dict()}

    def plot(self, path: str | Path) -> Path:
        """Bars of the predicted-class shares, reference beside window."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = self.reference.class_names
        x = np.arange(len(names))
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.bar(x - 0.2, self.reference.class_share, 0.4, label=f"reference ({self.reference.faces} faces)")
        ax.bar(x + 0.2, self.window.class_share, 0.4, label=f"window ({self.window.faces} faces)")
        ax.set_xticks(x, names)
        ax.set_ylabel("share of predictions")
        ax.set_title(f"PSI {self.psi:.3f}: " + ("drift" if self.drifted else "no drift"))
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return Path(path)


def check_drift(reference: Profile, window_probs: np.ndarray, thresholds: dict | None = None) -> DriftReport:
    window = profile_from_probs(reference.class_names, window_probs)
    expected = np.clip(np.asarray(reference.class_share), _EPS, None)
    actual = np.clip(np.asarray(window.class_share), _EPS, None)
    psi = float(np.sum((actual - expected) * np.log(actual / expected)))
    return DriftReport(psi, window.mean_confidence - reference.mean_confidence,
                       window.mean_entropy - reference.mean_entropy, reference, window,
                       {**DEFAULT_THRESHOLDS, **(thresholds or {})})
