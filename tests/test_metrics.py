import json

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from emodet.data.images import LabelledImages, one_hot
from emodet.evaluation.metrics import DEDUPLICATED, EvaluationReport, report_from_probs

CLASSES = ("a", "b", "c")
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 1])
Y_PRED = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2, 1])


def _report():
    return EvaluationReport(CLASSES, Y_TRUE, np.eye(3, dtype=np.float32)[Y_PRED] * 0.8 + 0.2 / 3)


def test_scores_match_scikit_learn():
    report = _report()
    assert report.accuracy == accuracy_score(Y_TRUE, Y_PRED) == 0.7
    for average in ("macro", "weighted"):
        m = report.averaged(average)
        assert np.isclose(m["f1"], f1_score(Y_TRUE, Y_PRED, average=average))
        assert np.isclose(m["precision"], precision_score(Y_TRUE, Y_PRED, average=average))
        assert np.isclose(m["recall"], recall_score(Y_TRUE, Y_PRED, average=average))
    assert np.isclose(report.per_class["c"]["recall"], 3 / 4)
    assert np.isclose(report.per_class["a"]["precision"], 2 / 3)
    assert report.per_class["b"]["support"] == 3
    assert np.array_equal(report.confusion, confusion_matrix(Y_TRUE, Y_PRED))


def test_absent_class_scores_zero_not_nan():
    report = EvaluationReport(CLASSES, np.array([0, 1]), np.eye(3)[[0, 1]])
    assert report.per_class["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report.confusion.shape == (3, 3)


def test_deduplicated_subset_and_json(tmp_path):
    data = LabelledImages(np.zeros((10, 4, 4, 1), np.uint8), one_hot(Y_TRUE, 3), CLASSES, np.arange(10), "test",
                          in_train=np.array([1, 0, 0, 0, 0, 0, 0, 1, 0, 0], bool))
    report = report_from_probs(data, np.eye(3, dtype=np.float32)[Y_PRED])
    sub = report.subsets[DEDUPLICATED]
    assert len(sub.y_true) == 8 and np.isclose(sub.accuracy, 6 / 8)
    saved = json.loads(report.save_json(tmp_path / "r.json").read_text())
    assert saved["accuracy"] == 0.7 and saved["subsets"][DEDUPLICATED]["images"] == 8
    assert saved["confusion_matrix"] == confusion_matrix(Y_TRUE, Y_PRED).tolist()
    table = report.format_table()
    assert "macro avg" in table and "0.7000" in table and "0.7500" in table
