"""Continuing training from a trained model on new data, with replay of the data it learned from.

Fine-tuning on new faces alone makes a model forget the old ones. :func:`retrain` trains on the
new data's training split mixed with a replay sample of the old training data (``replay_share``
of the mix), at a low learning rate with BatchNorm frozen, selecting the epoch on the new data's validation split
(split by subject when the data names subjects, as CK+ does). The model keeps its architecture,
classes and input contract; the new data's classes are matched to them by name. The run folder
is an ordinary run (``best.keras``, ``history.csv``, ``metrics.json``, ``profile.json``, the HTML report) plus
``lineage.json``: the parent model's checksum and the fingerprints of the data trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from emodet.config import RETRAIN_KEEP_PARENT, RETRAIN_REPLAY_SHARE, ModelConfig, RunConfig, TrainConfig, validate
from emodet.data.classmatch import match_classes
from emodet.data.images import concatenate, resized
from emodet.data.sources import load_splits
from emodet.errors import ConfigError, DataError
from emodet.training.distill import check_teachers, distilled, teacher_probabilities
from emodet.training.precision import dtype_policy

LINEAGE = "lineage.json"


@dataclass(frozen=True)
class RetrainResult:
    run_dir: Path
    model: object
    val_accuracy: float
    lineage: dict


def retrain(model_path: str | Path | None, data: str, run_dir: str | Path, *, replay: str | None = None,
            replay_share: float = RETRAIN_REPLAY_SHARE, epochs: int = 8, learning_rate: float = 1e-4,
            batch_size: int = 64, augment: float = 1.0, augment_blur: float = 0.0, seed: int = 42,
            drop_unknown: bool = False, class_weight_power: float = 0.0, precision: str = TrainConfig.precision,
            teachers=(), teacher_blend: float = 0.5, teacher_tta: str = TrainConfig.teacher_tta,
            keep_parent: float = RETRAIN_KEEP_PARENT, log=None) -> RetrainResult:
    """Fine-tune the model at ``model_path`` (``None``: the bundled one) on ``data`` plus replay.

    ``teachers`` (models or ``.keras`` paths) distil into it: their mean probabilities over the
    training mix make ``teacher_blend`` of its targets (:mod:`emodet.training.distill`), each
    averaged over the views of ``teacher_tta`` (:mod:`emodet.inference.tta`).
    ``class_weight_power`` > 0 weights each class by its inverse frequency to that power (0.5, the
    bundled recipe's, keeps rare classes such as disgust from being forgotten); ``precision``
    ``mixed_bfloat16`` trains ``small_cnn`` 13% faster on a CPU with BF16 (slower for MobileNetV2,
    docs/BENCHMARKS.md) and still saves float32. ``keep_parent`` > 0 saves the weight-space mean of the
    parent (that share) and the chosen epoch (the rest): WiSE-FT (:mod:`emodet.models.averaging`),
    which keeps what the parent knew; 0 saves the chosen epoch alone. ``emodet compare`` decides.
    """
    import keras

    from emodet.models.averaging import average_weights
    from emodet.models.classifier import describe
    from emodet.training.fit import fit
    from emodet.training.run import BEST, REPORT, record_best

    if not 0.0 <= keep_parent < 1.0:
        raise ConfigError(f"the parent's share of the saved weights must be in [0, 1), got {keep_parent}")
    if not 0.0 <= replay_share < 1.0:
        raise ConfigError("replay share must be in [0, 1) (the old data's part of the training mix), "
                          f"got {replay_share}")
    run_dir = Path(run_dir)
    if (run_dir / BEST).exists():
        raise ConfigError(f"{run_dir} already holds a trained model; choose another run directory")
    config = TrainConfig(batch_size=batch_size, head_epochs=0, finetune_epochs=epochs, finetune_lr=learning_rate,
                         unfreeze_blocks=1000, patience=epochs, seed=seed, label_smoothing=0.05,
                         class_weights=class_weight_power > 0, class_weight_power=class_weight_power,
                         precision=precision)
    validate(RunConfig(model=ModelConfig(augment=augment, augment_blur=augment_blur), train=config))
    check_teachers(teachers)
    parent, parent_path = _load_parent(model_path)
    contract = describe(parent)
    train, val = _new_data(data, contract, seed, drop_unknown)
    mix = _with_replay(train, replay, replay_share, contract, seed)
    if teachers:
        mix = distilled(mix, teacher_probabilities(teachers, mix, tta=teacher_tta), teacher_blend)
    keras.utils.set_random_seed(seed)
    with dtype_policy(precision):
        result = fit(_trainable_copy(parent, augment, augment_blur, seed), mix, val, config, run_dir, log=log)
    with dtype_policy("float32"):  # saved in float32 whatever it trained in; built uncompiled
        best = _trainable_copy(parent, augment, augment_blur, seed)
    best.set_weights(result.model.get_weights())
    if keep_parent > 0:
        with dtype_policy("float32"):
            start = _trainable_copy(parent, augment, augment_blur, seed)
        best.set_weights(average_weights([best, start], [1.0 - keep_parent, keep_parent],
                                         ["the retrained model", str(parent_path)]))
    report = record_best(run_dir, best, val, result.best_epoch)
    report.save_html(run_dir / REPORT, model=best, data=val, history=result)
    lineage = {"parent": str(parent_path), "parent_sha256": _sha256(parent_path), "data": data, "replay": replay,
               "replay_share": replay_share, "train_images": len(mix), "new_train_images": len(train),
               "train_fingerprint": mix.fingerprint(), "val_fingerprint": val.fingerprint(),
               "epochs": epochs, "learning_rate": learning_rate, "class_weight_power": class_weight_power,
               "augment_blur": augment_blur, "precision": precision,
               "teachers": [str(t) for t in teachers if isinstance(t, (str, Path))],
               "teacher_blend": teacher_blend if teachers else 0.0, "keep_parent": keep_parent}
    (run_dir / LINEAGE).write_text(json.dumps(lineage, indent=2))
    return RetrainResult(run_dir, best, report.accuracy, lineage)


def _new_data(data: str, contract, seed: int, drop_unknown: bool):
    """The new data's training and validation splits, classes matched to the parent model's."""
    new = load_splits(data, image_size=contract.crop_size, seed=seed)
    if "val" not in new:
        raise DataError(f"{data} has no validation split to choose the epoch on; add DIR/val/<class>/... "
                        "or use a folder without split subfolders (it is split by subject or class)")
    return (match_classes(new["train"], contract.class_names, drop_unknown=drop_unknown),
            match_classes(new["val"], contract.class_names, drop_unknown=drop_unknown))


def _with_replay(train, replay: str | None, replay_share: float, contract, seed: int):
    """``train`` plus a stratified sample of the old data making ``replay_share`` of the mix, so
    that fine-tuning on new faces does not forget the old ones."""
    if not replay or replay_share <= 0:
        return train
    old = match_classes(load_splits(replay, seed=seed)["train"], contract.class_names, drop_unknown=True)
    count = int(round(len(train) * replay_share / (1.0 - replay_share)))
    return concatenate([train, resized(old.stratified_sample(count, seed), contract.crop_size)], "train")


def _load_parent(model_path):
    from emodet.models.classifier import load_model

    if model_path is None:
        from emodet.bundled import bundled_model_path, load_bundled_model

        return load_bundled_model(), bundled_model_path()
    return load_model(model_path), Path(model_path)


def _trainable_copy(parent, augment: float, augment_blur: float, seed: int):
    """The parent's architecture rebuilt with augmentation and its weights copied; BatchNorm frozen."""
    import keras

    from emodet.models.classifier import build_model, describe
    from emodet.models.members import ensemble_members

    if ensemble_members(parent):
        raise ConfigError("retraining takes one model, not an ensemble; retrain each member")
    contract = describe(parent)
    head = parent.get_layer("emotion_head")
    model = build_model(contract.backbone, contract.class_names, image_size=contract.image_size,
                        color_mode=contract.color_mode, weights=None, dropout=head.dropout_rate, augment=augment,
                        augment_blur=augment_blur, seed=seed, source_size=contract.crop_size)
    for name in ("backbone", "emotion_head"):
        model.get_layer(name).set_weights(parent.get_layer(name).get_weights())
    for layer in model.get_layer("backbone").layers:  # BatchNorm keeps the statistics it learned, in
        if isinstance(layer, keras.layers.BatchNormalization):  # inference mode: fit() opens the rest
            layer.trainable = False
    return model


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
