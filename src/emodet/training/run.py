"""One training run from a :class:`RunConfig` into a run directory (what ``emodet train`` does).

The run directory holds ``config.yaml`` (the resolved settings), ``data.json`` (what was
trained on), ``history.csv``, ``best.keras`` (the selected model, no optimizer state),
``metrics.json``, ``report-val.html`` and ``profile.json`` (the best model on the validation split: its
scores, report and prediction profile for drift checks) and the resume files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from emodet.config import RunConfig, from_dict, read_config_file, save_config
from emodet.data.classmatch import match_classes
from emodet.data.feed import Mixture
from emodet.data.images import LabelledImages, concatenate, resized
from emodet.data.mixture import NamedSource, named_source, unique_names
from emodet.data.sources import load_splits
from emodet.data.stream import StreamedSplit, stream_splits
from emodet.errors import ConfigError, DataError
from emodet.evaluation.drift import profile_from_probs
from emodet.evaluation.metrics import EvaluationReport, evaluate
from emodet.evaluation.selection import explain, selection_score, set_scores
from emodet.models.backbones import get_backbone
from emodet.models.classifier import build_from_config, describe
from emodet.training import recorder
from emodet.training.distill import check_teachers, distilled, teacher_paths, teacher_probabilities
from emodet.training.distribute import Distribution
from emodet.training.fit import fit
from emodet.training.precision import dtype_policy

CONFIG = "config.yaml"
DATA = "data.json"
BEST = "best.keras"
METRICS = "metrics.json"
REPORT = "report-val.html"
PROFILE = "profile.json"  # the validation predictions' profile, for `emodet drift`


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    model: keras.Model
    history: list[dict]
    best_epoch: int
    val_report: EvaluationReport


def default_run_dir(config: RunConfig, root: str | Path = "runs") -> Path:
    return Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{config.model.backbone}"


def train(config: RunConfig, run_dir: str | Path, *, resume: bool = False, verbose: int | str = 0,
          log: Callable[[str], None] | None = None, callbacks=(),
          distribution: Distribution | None = None) -> TrainResult:
    """Load the data, build the model, fit both stages, and write the run directory.

    ``resume=True`` continues an interrupted run in ``run_dir``; its saved config must equal
    ``config`` (an error lists the differences otherwise). ``distribution``
    (:func:`~emodet.training.distribute.plan_distribution`) trains data-parallel; a worker other
    than the chief writes its copy of the run to ``run_dir/worker-N``.
    """
    say = log or (lambda message: None)
    distribution = distribution or Distribution()
    run_dir = Path(run_dir) if distribution.is_chief else Path(run_dir) / f"worker-{distribution.worker}"
    _check_run_dir(run_dir, config, resume)
    check_teachers(teacher_paths(config.train.teachers))
    data = load_training_data(config)
    train_data, val_data = data.train, data.val
    keras.utils.set_random_seed(config.train.seed)
    with dtype_policy(config.train.precision), distribution.scope():
        model = build_from_config(config.model, train_data.class_names, seed=config.train.seed,
                                  source_size=source_size(train_data))
    if not resume:  # only now: a run refused for its data, settings or weights (offline) leaves no folder behind
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / CONFIG)
    say(f"data: {len(train_data)} training images, validation sets "
        + ", ".join(f"{name} ({len(split)})" for name, split in data.val_sets.items())
        + f"; classes {', '.join(train_data.class_names)}")
    skipped = _skipped(train_data, val_data)
    if skipped:
        say(f"skipped {len(skipped)} unreadable file(s), listed in {run_dir / DATA}; e.g. {skipped[0][1]}")
    _write_data_summary(run_dir, config, data)

    if distribution.replicas > 1:
        say(f"training data-parallel: {distribution.describe()}")
    with dtype_policy(config.train.precision), distribution.scope():
        result = fit(model, train_data, val_data, distribution.scaled(config.train), run_dir, verbose=verbose,
                     log=log, callbacks=callbacks, distribution=distribution, val_sets=data.val_sets,
                     mixture=data.mixture)
    best = float32_copy(result.model, config)
    report = record_best(run_dir, best, val_data, result.best_epoch, data.val_sets)
    report.save_html(run_dir / REPORT, model=best, data=val_data, history=result)
    return TrainResult(run_dir, best, result.history, result.best_epoch, report)


def record_best(run_dir: Path, best: keras.Model, val: LabelledImages, best_epoch: int,
                val_sets: dict[str, LabelledImages] | None = None) -> EvaluationReport:
    """Save a run's chosen model with its validation scores (all sets together under ``val``, each
    set by name under ``validation_sets``, and the selection score over them) and prediction
    profile; returns the scores on all sets together."""
    best.save(run_dir / BEST)
    report = evaluate(best, val)
    profile_from_probs(report.class_names, report.probs).save(run_dir / PROFILE)
    metrics = {"best_epoch": best_epoch, "val": report.to_dict()}
    if val_sets:
        scores = {name: evaluate(best, split) for name, split in val_sets.items()}
        by_set = {name: set_scores(r.y_true, r.y_pred, r.class_names) for name, r in scores.items()}
        metrics["validation_sets"] = {name: r.to_dict() for name, r in scores.items()}
        metrics["selection"] = {"score": selection_score(by_set), "why": explain(by_set),
                                "sets": {name: s.to_dict() for name, s in by_set.items()}}
    (run_dir / METRICS).write_text(json.dumps(metrics, indent=2))
    return report


@dataclass(frozen=True)
class TrainingData:
    """What a run trains and chooses on."""

    train: LabelledImages | StreamedSplit  # every training source, classes matched to the first's
    val_sets: dict[str, LabelledImages]  # by name: the sets the selection rule scores
    mixture: Mixture | None = None  # each training image's source and each source's share of an epoch

    @property
    def val(self) -> LabelledImages:
        """Every validation set as one (Keras' val_loss and val_accuracy, the report's confusion matrix)."""
        sets = list(self.val_sets.values())
        return sets[0] if len(sets) == 1 else concatenate(sets, "val")


def load_training_data(config: RunConfig) -> TrainingData:
    """The (possibly limited) training and validation data named by ``config.data``: the first source
    and ``data.sources`` for training, their validation splits and ``data.validation`` for choosing;
    with ``data.stream`` the training split is a :class:`~emodet.data.stream.StreamedSplit`."""
    if config.data.stream:
        return _streamed_training_data(config)
    first, *others = unique_names([named_source(config.data.source or ""),
                                   *map(named_source, config.data.sources), *map(named_source, config.data.validation)])
    splits = load_run_splits(config)
    if "val" not in splits or len(splits["val"]) == 0:
        raise DataError(f"{config.data.source} has no validation images; training selects its checkpoint "
                        "on them (set data.val_fraction above 0 for folder sources)")
    train = splits["train"].stratified_sample(config.data.train_limit, config.train.seed)
    val = splits["val"].stratified_sample(config.data.val_limit, config.train.seed + 1)
    parts, val_sets = [train], {first.name: val}
    size = train.images.shape[1]
    for k, source in enumerate(others):
        training = k < len(config.data.sources)
        extra = _load_matched(config, source, train.class_names, size, drop_unknown=not training
                              or config.data.drop_unknown_classes, need_train=training)
        if training:
            parts.append(extra["train"].stratified_sample(config.data.train_limit, config.train.seed))
        if "val" in extra:
            val_sets[source.name] = extra["val"].stratified_sample(config.data.val_limit, config.train.seed + 1)
    train = parts[0] if len(parts) == 1 else concatenate(parts, "train")
    mixture = None
    if config.data.shares and len(parts) > 1:
        mixture = Mixture(np.repeat(np.arange(len(parts)), [len(part) for part in parts]), config.data.shares)
    if config.train.teachers:
        probs = teacher_probabilities(teacher_paths(config.train.teachers), train, tta=config.train.teacher_tta)
        train = distilled(train, probs, config.train.teacher_blend)
    return TrainingData(train, val_sets, mixture)


def _load_matched(config: RunConfig, source: NamedSource, class_names, size: int, *, drop_unknown: bool,
                  need_train: bool) -> dict[str, LabelledImages]:
    """The train and val splits of a further source, classes matched to ``class_names`` by name, at ``size``."""
    splits = load_splits(source.spec, image_size=size, val_fraction=config.data.val_fraction,
                         test_fraction=config.data.test_fraction, seed=config.train.seed,
                         allow_empty_classes=config.data.allow_empty_classes)
    wanted = ("train", "val") if need_train else ("val",)
    if "val" not in splits and not need_train:
        raise DataError(f"validation set {source.name} ({source.spec}) has no val split; give a folder with "
                        "val/<class>/ or one that is split here (data.val_fraction above 0)")
    return {name: resized(match_classes(splits[name], class_names, drop_unknown=drop_unknown), size)
            for name in wanted if name in splits}


def _streamed_training_data(config: RunConfig) -> TrainingData:
    refused = [name for name, value in (("data.train_limit", config.data.train_limit),
                                        ("data.sources", config.data.sources),
                                        ("data.validation", config.data.validation),
                                        ("data.ferplus_blend", config.data.ferplus_blend),
                                        ("data.soft_targets", config.data.soft_targets),
                                        ("train.teachers", config.train.teachers)) if value]
    if refused:
        raise ConfigError(f"data.stream=true reads the data as it is stored; {', '.join(refused)} "
                          "need(s) it in memory: unset them or set data.stream=false")
    spec = get_backbone(config.model.backbone)
    splits = stream_splits(config.data.source, image_size=config.model.image_size or spec.input_size,
                           val_fraction=config.data.val_fraction, test_fraction=config.data.test_fraction,
                           seed=config.train.seed)
    if "val" not in splits:
        raise DataError(f"{config.data.source} has no validation images; training selects its checkpoint on them")
    val = splits["val"].load().stratified_sample(config.data.val_limit, config.train.seed + 1)
    return TrainingData(splits["train"], {named_source(config.data.source).name: val})


def load_run_splits(config: RunConfig, source: str | None = None) -> dict[str, LabelledImages]:
    """Every split of ``source`` (default: ``config.data.source``), loaded with the run's settings."""
    source = source or config.data.source
    if not source:
        raise ConfigError("no data given; pass --data fer2013:PATH (or ferplus:..., folder:...) "
                          "or set data.source in the config file")
    spec = get_backbone(config.model.backbone)
    return load_splits(source, image_size=config.model.image_size or spec.input_size,
                       soft_targets=config.data.soft_targets, val_fraction=config.data.val_fraction,
                       test_fraction=config.data.test_fraction, seed=config.train.seed,
                       ferplus_votes=config.data.ferplus_votes, ferplus_blend=config.data.ferplus_blend,
                       allow_empty_classes=config.data.allow_empty_classes)


def float32_copy(model: keras.Model, config: RunConfig) -> keras.Model:
    """An uncompiled float32 copy of ``model`` (built from ``config``), whatever policy it trained under."""
    if config.train.precision == "float32":
        return strip_training_state(model)
    contract = describe(model)
    with dtype_policy("float32"):
        copy = build_from_config(config.model, contract.class_names, source_size=contract.crop_size)
    copy.set_weights(model.get_weights())
    return copy


def source_size(data: LabelledImages | StreamedSplit) -> int:
    """The side of ``data``'s square images (0 if not square): recorded in the model (FaceInput)."""
    if isinstance(data, StreamedSplit):
        return data.image_size
    height, width = data.images.shape[1:3]
    return int(height) if height == width else 0


def strip_training_state(model: keras.Model) -> keras.Model:
    """An uncompiled copy of ``model`` with the same weights: smaller on disk, no optimizer."""
    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def _check_run_dir(run_dir: Path, config: RunConfig, resume: bool) -> None:
    """Refuse a resume whose folder or settings do not match, or a new run into a used folder."""
    saved = run_dir / CONFIG
    if resume:
        if not saved.is_file():
            raise ConfigError(f"cannot resume: {run_dir} holds no {CONFIG}; pass the run directory "
                              "of an earlier `emodet train`")
        differences = config_differences(from_dict(read_config_file(saved)), config)
        if differences:
            raise ConfigError(f"cannot resume {run_dir}: its config differs from this one in "
                              + "; ".join(differences) + ". Resume with the same settings or start a new run directory")
        return
    if (run_dir / recorder.STATE).is_file():
        raise ConfigError(f"{run_dir} already holds a training run; pass --resume to continue it (or to finish "
                          "its evaluation and report) or choose another --run-dir")


def config_differences(saved: RunConfig, wanted: RunConfig) -> list[str]:
    a, b = saved.to_dict(), wanted.to_dict()
    return [f"{section}.{key} is {a[section][key]!r} there and {b[section][key]!r} here"
            for section in a for key in a[section] if a[section][key] != b[section][key]]


def _write_data_summary(run_dir: Path, config: RunConfig, data: TrainingData) -> None:
    train, val = data.train, data.val
    summary = {
        "source": config.data.source,
        "sources": list(config.data.sources),
        "shares": list(config.data.shares),
        "class_names": list(train.class_names),
        "train": {"images": len(train), "class_counts": train.class_counts(), "fingerprint": train.fingerprint()},
        "val": {"images": len(val), "class_counts": val.class_counts(), "fingerprint": val.fingerprint()},
        "validation_sets": {name: {"images": len(split), "class_counts": split.class_counts()}
                            for name, split in data.val_sets.items()},
        "skipped": [list(s) for s in _skipped(train, val)],
    }
    (run_dir / DATA).write_text(json.dumps(summary, indent=2))


def _skipped(*splits: LabelledImages) -> list[tuple[str, str]]:
    """Unreadable inputs of the given splits, each listed once."""
    return list(dict.fromkeys(item for split in splits for item in split.skipped))
