"""Two-stage fitting, run directories with resume, and hyperparameter tuning."""

from emodet.training.fit import FitResult, fit
from emodet.training.run import TrainResult, train

__all__ = ["FitResult", "TrainResult", "fit", "train"]
