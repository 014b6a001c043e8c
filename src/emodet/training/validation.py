"""Scoring every validation set after each epoch, so that the epoch is chosen by the one rule.

:class:`ValidationScores` adds to each epoch's logs, before the run's recorder and early stopping
read them: ``val_<set>_accuracy``, ``val_<set>_macro_f1`` and ``val_<set>_worst_recall`` for every
named validation set, and ``val_score``, the selection score over all of them
(:mod:`emodet.evaluation.selection`), which ``train.monitor`` names by default.
"""

from __future__ import annotations

import keras
import numpy as np

from emodet.data.images import LabelledImages
from emodet.evaluation.metrics import predict_proba
from emodet.evaluation.selection import selection_score, set_scores
from emodet.inference.loading import load_classifier


class ValidationScores(keras.callbacks.Callback):
    def __init__(self, val_sets: dict[str, LabelledImages], batch_size: int):
        super().__init__()
        self.val_sets = val_sets
        self.batch_size = batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        scores = {}
        classifier = load_classifier(self.model)  # the model as trained so far, wrapped once for every set
        for name, data in self.val_sets.items():
            probs = predict_proba(classifier, data, self.batch_size)
            scores[name] = set_scores(data.labels, np.argmax(probs, axis=1), data.class_names)
            logs[f"val_{name}_accuracy"] = scores[name].accuracy
            logs[f"val_{name}_macro_f1"] = scores[name].macro_f1
            logs[f"val_{name}_worst_recall"] = scores[name].worst_recall
        logs["val_score"] = selection_score(scores)
