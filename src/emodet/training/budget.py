"""Training for a wall-clock budget instead of a number of epochs (``train.time_budget``).

A cosine schedule needs to know where it ends. On a machine whose speed is not known beforehand
(a GPU lent for a few minutes, a shared server) an epoch count is a guess: too few wastes the
machine, too many is cut off before the rate has decayed, which costs the most accuracy. Here the
schedule runs over time: each epoch starts at the cosine's value for the share of the budget
already spent, and the stage ends when the next epoch would not fit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import keras

from emodet.training.recorder import RunState

#: The schedule's floor as a share of the peak rate (as keras' CosineDecay ``alpha``).
FLOOR = 0.01


def cosine_rate(peak: float, spent: float) -> float:
    """The cosine-decayed rate after ``spent`` (0..1) of the budget."""
    spent = min(max(spent, 0.0), 1.0)
    return peak * (FLOOR + (1.0 - FLOOR) * 0.5 * (1.0 + math.cos(math.pi * spent)))


class TimeBudget(keras.callbacks.Callback):
    """Sets the learning rate from the time spent at each epoch's start; stops before overrunning.

    The time spent is kept in ``state.stage_seconds`` (saved by the run recorder, which must come
    after this callback), so a resumed stage continues its schedule. An epoch's length is measured
    from the end of the one before, checkpointing included. ``decay=False`` keeps the rate and only
    stops in time.
    """

    def __init__(self, minutes: float, peak_lr: float, state: RunState, *, decay: bool = True,
                 clock: Callable[[], float] | None = None):
        super().__init__()
        self.seconds = 60.0 * float(minutes)
        self.peak_lr = float(peak_lr)
        self.state = state
        self.decay = decay
        self.clock = clock or time.monotonic
        self._started = self._last_end = 0.0

    def on_train_begin(self, logs=None):
        now = self.clock()
        self._started = now - self.state.stage_seconds
        self._last_end = now

    def on_epoch_begin(self, epoch, logs=None):
        if self.decay:
            spent = (self.clock() - self._started) / self.seconds
            self.model.optimizer.learning_rate = cosine_rate(self.peak_lr, spent)

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        epoch_seconds, self._last_end = now - self._last_end, now
        self.state.stage_seconds = now - self._started
        if self.state.stage_seconds + epoch_seconds > self.seconds:
            self.model.stop_training = True
