"""Metrics (the EvaluationReport), plots and the HTML report."""

from emodet.evaluation.metrics import EvaluationReport, evaluate, predict_proba

__all__ = ["EvaluationReport", "evaluate", "predict_proba"]
