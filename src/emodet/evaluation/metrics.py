"""Classification metrics on a labelled split: the :class:`EvaluationReport`.

Scores come from scikit-learn on the model's argmax predictions; the report keeps the full
probabilities so plots (confusion matrix, calibration, sample grids) need no second pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from emodet.data.images import LabelledImages, one_hot
from emodet.inference.tta import predict_with_tta, tta_label, tta_mode

DEDUPLICATED = "without_train_duplicates"


@dataclass
class EvaluationReport:
    class_names: tuple[str, ...]
    y_true: np.ndarray  # (N,) true class indices
    probs: np.ndarray  # (N, K) predicted probabilities
    name: str = ""
    ids: np.ndarray | None = None
    # Extra reports on subsets of the same predictions, e.g. without images also in training.
    subsets: dict[str, EvaluationReport] = field(default_factory=dict)
    tta: str | None = None  # the test-time augmentation behind probs (emodet.inference.tta), if any

    def __post_init__(self):
        self.tta = tta_mode(self.tta)

    @cached_property
    def y_pred(self) -> np.ndarray:
        return np.argmax(self.probs, axis=1)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.y_pred == self.y_true)) if len(self.y_true) else float("nan")

    @cached_property
    def per_class(self) -> dict[str, dict[str, float]]:
        from sklearn.metrics import precision_recall_fscore_support

        labels = np.arange(len(self.class_names))
        if len(self.y_true) == 0:  # an empty subset (e.g. every test image also in training) scores nothing
            return {name: {"precision": float("nan"), "recall": float("nan"), "f1": float("nan"), "support": 0}
                    for name in self.class_names}
        p, r, f, s = precision_recall_fscore_support(self.y_true, self.y_pred, labels=labels, zero_division=0)
        return {name: {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]), "support": int(s[k])}
                for k, name in enumerate(self.class_names)}

    @property
    def present_classes(self) -> np.ndarray:
        """Indices of the classes that occur in the labels: averages are over these only, so a
        dataset without some of the model's classes (CK+ has no neutral) is scored fairly."""
        return np.unique(self.y_true)

    def averaged(self, average: str) -> dict[str, float]:
        """``macro`` or ``weighted`` precision, recall and F1 over the classes present."""
        from sklearn.metrics import precision_recall_fscore_support

        labels = self.present_classes
        if labels.size == 0:
            return {"precision": float("nan"), "recall": float("nan"), "f1": float("nan")}
        p, r, f, _ = precision_recall_fscore_support(self.y_true, self.y_pred, labels=labels,
                                                     average=average, zero_division=0)
        return {"precision": float(p), "recall": float(r), "f1": float(f)}

    @cached_property
    def confusion(self) -> np.ndarray:
        """Counts, rows = true class, columns = predicted class."""
        from sklearn.metrics import confusion_matrix

        if len(self.y_true) == 0:
            return np.zeros((len(self.class_names),) * 2, dtype=np.int64)
        return confusion_matrix(self.y_true, self.y_pred, labels=np.arange(len(self.class_names)))

    def subset(self, mask: np.ndarray, name: str) -> EvaluationReport:
        return EvaluationReport(self.class_names, self.y_true[mask], self.probs[mask], name,
                                None if self.ids is None else self.ids[mask], tta=self.tta)

    def to_dict(self) -> dict:
        data = {
            "name": self.name,
            "images": int(len(self.y_true)),
            "tta": self.tta,
            "accuracy": self.accuracy,
            "macro": self.averaged("macro"),
            "weighted": self.averaged("weighted"),
            "per_class": self.per_class,
            "class_names": list(self.class_names),
            "confusion_matrix": self.confusion.tolist(),
        }
        if self.subsets:
            data["subsets"] = {key: report.to_dict() for key, report in self.subsets.items()}
        return data

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    def save_html(self, path: str | Path, model=None, data=None, history=None) -> Path:
        """Write the self-contained HTML report (figures embedded) and its PNGs in ``PATH_STEM_figures/``.

        ``data`` is the LabelledImages this report was computed on (enables the face grids),
        ``model`` enables Grad-CAM, ``history`` (history.csv rows or a FitResult/TrainResult) the
        training curves. See :func:`emodet.evaluation.html_report.write_report`.
        """
        from emodet.evaluation.html_report import write_report

        return write_report(path, self, model=model, data=data, history=history)

    def format_table(self) -> str:
        """A plain-text table: one row per class, then macro/weighted averages and accuracy."""
        width = max(12, *(len(n) for n in self.class_names))
        augmented = f" ({tta_label(self.tta)})" if self.tta else ""
        lines = [f"{self.name or 'evaluation'}: {len(self.y_true)} images{augmented}",
                 f"{'class':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
        for name, m in self.per_class.items():
            lines.append(f"{name:<{width}} {m['precision']:9.4f} {m['recall']:9.4f} {m['f1']:9.4f} {m['support']:8d}")
        for average in ("macro", "weighted"):
            m = self.averaged(average)
            lines.append(f"{average + ' avg':<{width}} {m['precision']:9.4f} {m['recall']:9.4f} {m['f1']:9.4f} "
                         f"{len(self.y_true):8d}")
        lines.append(f"{'accuracy':<{width}} {self.accuracy:9.4f}")
        for key, report in self.subsets.items():
            lines.append(f"{'accuracy':<{width}} {report.accuracy:9.4f}  on {len(report.y_true)} images "
                         f"{key.replace('_', ' ')}")
        return "\n".join(lines)


def predict_proba(model, data: LabelledImages, batch_size: int = 128, tta: bool | str | None = None) -> np.ndarray:
    """Class probabilities for every image; ``tta`` (``"flip"`` or ``True``, ``"crops"``) averages
    over views of each image (:mod:`emodet.inference.tta`).

    ``model``: anything :func:`~emodet.inference.loading.load_classifier` takes (a Keras model, one
    being trained included, a classifier, a model file); see ``Classifier.predict_images``.
    """
    from emodet.inference.loading import load_classifier

    classifier = load_classifier(model)
    return predict_with_tta(lambda images: classifier.predict_images(images, batch_size), data.images, tta)


def evaluate(model, data: LabelledImages, *, tta: bool | str | None = None, batch_size: int = 128,
             drop_unknown: bool = False) -> EvaluationReport:
    """Evaluate ``model`` (Keras, or a runtime classifier of an exported file) on ``data``; adds the
    de-duplicated subset when some images occur in training.

    Classes are matched by name (:func:`emodet.data.classmatch.match_classes`); ``drop_unknown``
    leaves out images of classes the model does not predict instead of refusing them.
    """
    from emodet.data.classmatch import match_classes
    from emodet.inference.loading import load_classifier

    classifier = load_classifier(model)
    data = match_classes(data, classifier.class_names, drop_unknown=drop_unknown)
    return report_from_probs(data, predict_proba(classifier, data, batch_size, tta), tta=tta)


def evaluate_stream(model, data, *, tta: bool | str | None = None, batch_size: int = 128,
                    drop_unknown: bool = False) -> EvaluationReport:
    """:func:`evaluate` for a :class:`~emodet.data.stream.StreamedSplit`: the split is read from disk
    batch by batch and never held in memory whole (no de-duplicated subset: that needs the pixels)."""
    from emodet.data.classmatch import model_columns, unknown_classes_error
    from emodet.inference.loading import load_classifier

    classifier = load_classifier(model)
    classes = classifier.class_names
    columns = model_columns(data.class_names, classes)
    if None in columns and not drop_unknown:  # checked before reading: the images are not in memory to count
        raise unknown_classes_error(data.source, data.class_names, classes)
    mapping = np.array([-1 if column is None else column for column in columns])
    probs, labels = [np.zeros((0, len(classes)), np.float32)], [np.zeros(0, int)]
    for images, targets in data.dataset(batch_size):
        known = mapping[np.argmax(targets.numpy(), axis=1)]
        keep = known >= 0
        chunk = LabelledImages(images.numpy()[keep], one_hot(known[keep], len(classes)), classes,
                               np.arange(int(keep.sum())))
        if len(chunk):
            probs.append(predict_proba(classifier, chunk, batch_size, tta))
            labels.append(chunk.labels)
    return EvaluationReport(classes, np.concatenate(labels), np.concatenate(probs), data.name, tta=tta)


def report_from_probs(data: LabelledImages, probs: np.ndarray, tta: bool | str | None = None) -> EvaluationReport:
    report = EvaluationReport(data.class_names, data.labels, probs, data.name, data.ids, tta=tta)
    if data.in_train is not None and data.in_train.any():
        report.subsets[DEDUPLICATED] = report.subset(~data.in_train, f"{data.name} {DEDUPLICATED}")
    return report
