"""Two-stage transfer learning: train the head on a frozen backbone, then fine-tune its top.

Stage 1 fits only the new head (the backbone is frozen and runs in inference mode). Stage 2
unfreezes the backbone's top ``unfreeze_blocks`` blocks, BatchNorm excepted, and recompiles at
the lower ``finetune_lr`` so the pretrained features are adjusted rather than overwritten.
A backbone not pretrained on ImageNet (random, or continued from an emodet model) is trained whole.

With a run directory, every epoch is checkpointed (see :mod:`emodet.training.recorder`) and
:func:`fit` resumes from the last completed epoch. With ``train.time_budget`` stage 2 runs for a
number of minutes rather than epochs (:mod:`emodet.training.budget`). With ``train.ema_momentum`` the
weights validated, chosen and kept are the moving average of the steps' weights (Polyak averaging).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from emodet.config import TrainConfig
from emodet.data.feed import ImageBatches, Mixture, balanced_class_weights
from emodet.data.images import LabelledImages
from emodet.data.stream import StreamedSplit
from emodet.errors import ConfigError
from emodet.models.backbones import get_backbone
from emodet.models.classifier import describe, load_model, unfreeze_top_blocks
from emodet.training import recorder
from emodet.training.budget import TimeBudget
from emodet.training.distribute import Distribution
from emodet.training.recorder import RunRecorder, RunState
from emodet.training.validation import ValidationScores


@dataclass(frozen=True)
class FitResult:
    model: keras.Model  # holds the best weights (by ``monitor`` on validation)
    history: list[dict]  # one row per epoch, both stages
    best_epoch: int
    best_value: float


def fit(model: keras.Model, train: LabelledImages, val: LabelledImages, config: TrainConfig | None = None,
        run_dir: str | Path | None = None, *, callbacks=(), verbose: int | str = 0,
        log: Callable[[str], None] | None = None, distribution: Distribution | None = None,
        val_sets: dict[str, LabelledImages] | None = None, mixture: Mixture | None = None) -> FitResult:
    """Train ``model`` in two stages, selecting the best epoch on ``val``.

    ``run_dir`` (created if needed) receives the history, checkpoints and state; an existing
    one with a checkpoint is resumed, continuing the model stored there. ``distribution``: the
    data-parallel plan the caller has entered the scope of (its batches are shaped for it).
    ``val_sets``: the named validation sets the epoch is chosen over (default: ``val`` alone), each
    scored after every epoch (:class:`~emodet.training.validation.ValidationScores`); ``val`` holds
    them all together for Keras' own ``val_loss`` and ``val_accuracy``.
    ``mixture``: which source each training image came from and each source's share of an epoch
    (several training sources, :mod:`emodet.data.mixture`); without it every image comes once an epoch.
    """
    config = config or TrainConfig()
    distribution = distribution or Distribution()
    say = log or (lambda message: None)
    run_dir = Path(run_dir) if run_dir is not None else _scratch_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    state = RunState.load(run_dir)
    if state is not None and (run_dir / recorder.LAST).is_file():
        model = load_model(run_dir / recorder.LAST, compile=True)
        recorder.truncate_history(run_dir, state.epoch)
        say(f"resuming from {run_dir} after epoch {state.epoch} (stage {state.stage})")
    else:
        state = RunState()
    keras.utils.set_random_seed(config.seed + state.epoch)

    weights = (balanced_class_weights(train.labels, len(train.class_names), config.class_weight_power)
               if config.class_weights else None)
    stages = ((1, config.head_epochs, config.head_lr), (2, config.head_epochs + config.finetune_epochs,
                                                        config.finetune_lr))
    for stage, end_epoch, lr in stages:
        if state.stage > stage or (state.stage == stage and state.stage_finished) or state.epoch >= end_epoch:
            continue
        continuing = state.stage == stage and state.epoch > 0 and model.optimizer is not None
        budgeted = stage == 2 and config.time_budget > 0
        if not continuing:
            if stage == 2:
                opened = _open_for_finetuning(model, config.unfreeze_blocks)
                say(f"stage 2: fine-tuning {opened} weight tensors at learning rate {lr:g}"
                    + (f" for at most {config.time_budget:g} minutes" if budgeted else ""))
            else:
                say(f"stage 1: training the head at learning rate {lr:g}")
            state.stage_seconds = 0.0
            steps = int(np.ceil(len(train) / config.batch_size)) * (end_epoch - state.epoch)
            compile_model(model, config, lr, steps if stage == 2 and not budgeted else 0)
        # Before the recorder, which saves the time the budget has counted.
        budget = [TimeBudget(config.time_budget, lr, state, decay=config.lr_schedule == "cosine")] if budgeted else []
        batches = _training_batches(train, config, weights, state.epoch, distribution, mixture)
        val_batches = ImageBatches(val, config.batch_size, multiple_of=distribution.batch_multiple,
                                   dtype=distribution.input_dtype)
        scores = ValidationScores(val_sets or {val.name or "val": val}, config.batch_size)
        record = RunRecorder(run_dir, state, stage, config.monitor)
        stop = keras.callbacks.EarlyStopping(monitor=config.monitor, patience=config.patience,
                                             mode="min" if "loss" in config.monitor else "max")
        epoch_callbacks = [*_weight_averaging(config, continuing), *budget, scores, record, stop, *callbacks]
        with warnings.catch_warnings():
            # A stream that skips unreadable files has no known length: Keras learns it when the first
            # epoch's data runs out, and says so. The batches shuffle themselves (shuffle=False).
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            model.fit(batches, validation_data=val_batches, epochs=end_epoch, initial_epoch=state.epoch,
                      callbacks=epoch_callbacks, verbose=verbose, shuffle=False)
        record.finish_stage()

    if (run_dir / recorder.BEST_WEIGHTS).is_file():
        with warnings.catch_warnings():
            # The file also holds the optimizer of the best epoch's stage; only the weights matter here.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(run_dir / recorder.BEST_WEIGHTS)
    return FitResult(model, recorder.read_history(run_dir), state.best_epoch,
                     float("nan") if state.best is None else state.best)


def _training_batches(train: LabelledImages | StreamedSplit, config: TrainConfig, weights, epoch: int,
                      distribution: Distribution, mixture: Mixture | None = None):
    """Shuffled training batches: from memory, or read from disk as they are needed."""
    if isinstance(train, StreamedSplit):
        if distribution.input_dtype is not None:
            raise ConfigError("data.stream with --distribute multi-worker is not supported; stream on one machine "
                              "or use mirrored / data-parallel")
        return train.dataset(config.batch_size, shuffle=True, seed=config.seed + epoch, class_weights=weights,
                             multiple_of=distribution.batch_multiple)
    return ImageBatches(train, config.batch_size, shuffle=True, seed=config.seed, class_weights=weights,
                        epoch=epoch, multiple_of=distribution.batch_multiple, dtype=distribution.input_dtype,
                        mixture=mixture, mixup=config.mixup)


def _open_for_finetuning(model: keras.Model, unfreeze_blocks: int) -> int:
    """Unfreeze the top blocks of a pretrained backbone; leave a never-frozen one as it is.

    A backbone that was trainable from the start is not an ImageNet one (random weights, or an
    emodet model's continued with ``model.weights``): it is trained whole, BatchNorm included, as
    in the run that made it; it has no ImageNet statistics to protect.
    """
    backbone = model.get_layer("backbone")
    if backbone.trainable and all(layer.trainable for layer in backbone.layers):
        return len(backbone.trainable_weights)
    spec = get_backbone(describe(model).backbone)
    return unfreeze_top_blocks(model, spec.finetune_blocks if unfreeze_blocks < 0 else unfreeze_blocks)


def compile_model(model: keras.Model, config: TrainConfig, lr: float, decay_steps: int) -> None:
    """Compile for training: the recipe's optimizer at ``lr`` (cosine-decayed over ``decay_steps``
    when set), label-smoothed cross-entropy, accuracy."""
    rate = lr
    if decay_steps > 0 and config.lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(lr, decay_steps=decay_steps, alpha=0.01)
    model.compile(
        optimizer=make_optimizer(config, rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )


def make_optimizer(config: TrainConfig, learning_rate) -> keras.optimizers.Optimizer:
    """The recipe's optimizer; with ``train.ema_momentum`` it also keeps the weights' moving average."""
    averaging = {"use_ema": True, "ema_momentum": config.ema_momentum} if config.ema_momentum > 0 else {}
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay, **averaging)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=config.momentum, nesterov=True, **averaging)
    return keras.optimizers.Adam(learning_rate, **averaging)


def _weight_averaging(config: TrainConfig, resumed: bool) -> list[keras.callbacks.Callback]:
    """With ``train.ema_momentum``, the moving average is put in the model at each epoch's end, so that
    validation, the selection and the checkpoints all see it, and the steps' own weights come back at the
    next epoch's start. It must come before the callbacks that score or save the model. ``resumed``: the
    model was loaded from a checkpoint written at an epoch's end, so it holds the average already."""
    if config.ema_momentum <= 0:
        return []
    swap = keras.callbacks.SwapEMAWeights(swap_on_epoch=True)
    swap._ema_weights_in_model = resumed  # Keras' own flag; a new callback assumes the steps' weights
    return [swap]


def _scratch_dir() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="emodet-fit-"))
