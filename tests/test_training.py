"""Real training on small slices of FER2013: it must learn, checkpoint, and resume."""

import dataclasses
import json

import keras
import numpy as np
import pytest
from interruption import StopAfter

from emodet.config import RunConfig, TrainConfig
from emodet.errors import ConfigError
from emodet.evaluation.metrics import evaluate
from emodet.models import build_model
from emodet.training import fit, train
from emodet.training.recorder import RunState, read_history

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mixup", [0.0, 0.2], ids=["plain", "mixup"])
def test_short_training_beats_chance_on_held_out_rows(fer_splits, tmp_path, mixup):
    train_rows = fer_splits["train"].stratified_sample(6000, seed=0)
    val_rows = fer_splits["val"].stratified_sample(400, seed=0)
    test_rows = fer_splits["test"].stratified_sample(700, seed=0)
    keras.utils.set_random_seed(0)
    model = build_model("mobilenet_v2", train_rows.class_names, image_size=48, augment=0.5)
    config = TrainConfig(batch_size=64, head_epochs=1, head_lr=1e-3, finetune_epochs=3, finetune_lr=1e-4,
                         unfreeze_blocks=100, mixup=mixup)
    result = fit(model, train_rows, val_rows, config, tmp_path / "run")
    report = evaluate(result.model, test_rows)
    majority = max(test_rows.class_counts().values()) / len(test_rows)  # "happy", about 0.25
    assert report.accuracy > majority + 0.08, report.format_table()
    assert report.averaged("macro")["f1"] > 0.2, report.format_table()
    assert [row["stage"] for row in result.history] == [1, 2, 2, 2]


def _tiny(fer_splits):
    return fer_splits["train"].stratified_sample(256, seed=1), fer_splits["val"].stratified_sample(64, seed=1)


def test_resume_continues_where_it_stopped(fer_splits, tmp_path):
    train_rows, val_rows = _tiny(fer_splits)
    config = TrainConfig(batch_size=32, head_epochs=2, finetune_epochs=2, finetune_lr=1e-4)
    model = build_model("mobilenet_v2", train_rows.class_names, image_size=32, augment=0)
    with pytest.raises(KeyboardInterrupt):
        fit(model, train_rows, val_rows, config, tmp_path, callbacks=[StopAfter(3)])
    state = RunState.load(tmp_path)
    assert (state.epoch, state.stage) == (3, 2)
    stopped = keras.saving.load_model(tmp_path / "last.keras")
    iterations = int(stopped.optimizer.iterations.numpy())
    assert iterations == 8  # one stage-2 epoch of 256 / 32 batches

    fresh = build_model("mobilenet_v2", train_rows.class_names, image_size=32, augment=0)
    result = fit(fresh, train_rows, val_rows, config, tmp_path)
    assert [int(r["epoch"]) for r in result.history] == [1, 2, 3, 4]
    assert [int(r["stage"]) for r in result.history] == [1, 1, 2, 2]
    assert RunState.load(tmp_path).epoch == 4
    # The learning rate kept decaying from where it was instead of restarting the schedule.
    resumed = keras.saving.load_model(tmp_path / "last.keras")
    assert int(resumed.optimizer.iterations.numpy()) == 16
    assert result.history[3]["learning_rate"] < result.history[2]["learning_rate"]


def test_run_directory_and_config_mismatch_on_resume(fer_csv, tmp_path):
    config = RunConfig().replace(
        data={"source": f"fer2013:{fer_csv}", "train_limit": 200, "val_limit": 60},
        model={"backbone": "small_cnn", "weights": "none", "augment": 0},
        train={"head_epochs": 1, "finetune_epochs": 1, "batch_size": 32},
    )
    result = train(config, tmp_path / "run")
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.yaml", "data.json", "history.csv", "best.keras", "metrics.json", "state.json"} <= files
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["val"]["images"] == len(result.val_report.y_true) == 60
    assert len(read_history(tmp_path / "run")) == 2
    with pytest.raises(ConfigError, match="already holds a training run"):
        train(config, tmp_path / "run")
    changed = config.replace(train={"batch_size": 16})
    with pytest.raises(ConfigError, match="train.batch_size is 32 there and 16 here"):
        train(changed, tmp_path / "run", resume=True)
    np.testing.assert_allclose(result.model.predict(np.zeros((1, 48, 48, 3), np.uint8), verbose=0).sum(), 1.0,
                               rtol=1e-5)


def test_class_weights_reach_every_batch(fer_splits):
    from emodet.data.feed import ImageBatches, balanced_class_weights

    rows = fer_splits["train"].stratified_sample(1000, seed=2)
    weights = balanced_class_weights(rows.labels, 7)
    counts = np.bincount(rows.labels, minlength=7)
    assert np.allclose(weights, len(rows) / (7 * counts))  # scikit-learn's "balanced"
    assert weights[1] > 5 * weights[3]  # disgust (rare) outweighs happy (common)
    batches = ImageBatches(rows, 100, shuffle=True, seed=0, class_weights=weights)
    images, targets, sample_weights = batches[0]
    assert images.shape == (100, 48, 48, 3) and images.dtype == np.uint8
    assert np.allclose(sample_weights, weights[np.argmax(targets, axis=1)])
    first_order = batches.order.copy()
    batches.on_epoch_end()
    assert not np.array_equal(first_order, batches.order)  # reshuffled each epoch, reproducibly
    assert np.array_equal(ImageBatches(rows, 100, shuffle=True, seed=0, epoch=1).order, batches.order)


def test_a_from_scratch_backbone_keeps_batchnorm_training(fer_splits, tmp_path):
    train_rows, val_rows = _tiny(fer_splits)
    model = build_model("small_cnn", train_rows.class_names, weights=None, augment=0)
    result = fit(model, train_rows, val_rows, TrainConfig(head_epochs=0, finetune_epochs=1, batch_size=64), tmp_path)
    batchnorm = [layer for layer in result.model.get_layer("backbone").layers
                 if isinstance(layer, keras.layers.BatchNormalization)]
    assert batchnorm and all(layer.trainable for layer in batchnorm)
    assert not np.allclose(batchnorm[0].moving_mean.numpy(), 0.0)  # statistics were learned


def test_mixed_bfloat16_training_saves_a_float32_model_that_knows_its_face_size(fer_csv, fer_splits, tmp_path):
    from emodet.models.classifier import describe, load_model

    config = RunConfig().replace(
        data={"source": f"fer2013:{fer_csv}", "train_limit": 256, "val_limit": 64},  # bfloat16 is slow on AVX2
        model={"backbone": "small_cnn", "weights": "none", "image_size": 64, "augment_blur": 1.0},
        train={"head_epochs": 0, "finetune_epochs": 2, "batch_size": 64, "precision": "mixed_bfloat16",
               "class_weights": True, "class_weight_power": 0.5})
    result = train(config, tmp_path / "run")
    saved = load_model(tmp_path / "run" / "best.keras")
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    assert keras.config.dtype_policy().name == "float32"  # the policy was restored after training
    # Trained at 64 px on FER2013's 48 px faces: inference hands faces over at 48.
    assert (describe(saved).image_size, describe(saved).crop_size) == (64, 48)
    faces = np.repeat(fer_splits["val"].images[:64], 3, axis=-1)
    # The file on disk answers as the returned model does, and as the last bfloat16 checkpoint does.
    returned = keras.ops.convert_to_numpy(result.model(faces, training=False))
    assert np.mean(saved.predict(faces, verbose=0).argmax(1) == returned.argmax(1)) > 0.95
    last = load_model(tmp_path / "run" / "last.keras")  # mixed_bfloat16, weights of the final epoch
    assert {layer.dtype_policy.name for layer in last.get_layer("backbone").layers if layer.weights} == \
        {"mixed_bfloat16"}
    losses = [row["loss"] for row in read_history(tmp_path / "run")]
    assert losses[-1] < losses[0]


def test_validation_made_only_of_training_copies_finishes_and_a_broken_finish_resumes(fer_splits, tmp_path):
    """Every validation image is a copy of a training image: the de-duplicated subset is empty, which
    is a row in the report, not a crash; and a run whose evaluation never ran is finished by --resume."""
    import cv2

    from emodet.cli import main

    faces = fer_splits["train"]
    for split, count in (("train", 12), ("val", 6)):
        for name, label in (("happy", 3), ("sad", 4)):
            folder = tmp_path / "faces" / split / name
            folder.mkdir(parents=True)
            rows = np.flatnonzero(faces.labels == label)[:count]
            for i in rows:
                cv2.imwrite(str(folder / f"{i}.png"), faces.images[i, ..., 0])
    argv = ["train", "--data", f"folder:{tmp_path / 'faces'}", "--backbone", "small_cnn", "--set", "model.weights=none",
            "--set", "model.image_size=48", "--set", "train.head_epochs=0", "--set", "train.finetune_epochs=1",
            "--set", "train.batch_size=8", "--run-dir", str(tmp_path / "run"), "--quiet"]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["val"]["subsets"]["without_train_duplicates"]["images"] == 0
    (tmp_path / "run" / "metrics.json").unlink()
    (tmp_path / "run" / "report-val.html").unlink()
    assert main(argv) == 2  # a plain rerun is refused ...
    assert main(argv + ["--resume"]) == 0  # ... and --resume finishes the evaluation and the report
    assert (tmp_path / "run" / "metrics.json").is_file() and (tmp_path / "run" / "report-val.html").is_file()


class _Clock:
    """Wall-clock time that advances 5 s at every reading: each epoch 'takes' 10 s."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        self.now += 5.0
        return self.now - 5.0


def test_a_time_budget_spreads_the_cosine_over_time_and_survives_a_resume(fer_splits, tmp_path, monkeypatch):
    from emodet.training import budget

    clock = _Clock()
    monkeypatch.setattr(budget, "time", clock)
    train_rows, val_rows = _tiny(fer_splits)
    config = TrainConfig(head_epochs=0, finetune_epochs=40, finetune_lr=1e-3, batch_size=64, time_budget=1.0)
    model = build_model("small_cnn", train_rows.class_names, weights=None, augment=0)
    with pytest.raises(KeyboardInterrupt):
        fit(model, train_rows, val_rows, config, tmp_path, callbacks=[StopAfter(2)])
    assert RunState.load(tmp_path).stage_seconds == 20.0
    clock.now += 1000.0  # the pause between the interruption and the resume does not count
    fresh = build_model("small_cnn", train_rows.class_names, weights=None, augment=0)
    result = fit(fresh, train_rows, val_rows, config, tmp_path)
    # 10 s epochs in 60 s: the sixth would overrun it, so the stage stops after 6 of at most 40.
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4, 5, 6]
    assert RunState.load(tmp_path).stage_seconds == 60.0
    # Each epoch started at the cosine's value for the time spent before it (5 s, 15 s, ... 55 s).
    expected = [budget.cosine_rate(1e-3, (5 + 10 * k) / 60) for k in range(6)]
    np.testing.assert_allclose([row["learning_rate"] for row in result.history], expected, rtol=1e-5)
    assert expected[-1] < 0.05 * expected[0]


def test_time_budget_must_not_be_negative():
    with pytest.raises(ConfigError, match="train.time_budget must be zero or positive"):
        RunConfig().replace(train={"time_budget": -1})


def _distance(model, reference):
    """Largest change of any trainable weight between ``model`` and ``reference`` weight values."""
    return max(float(np.max(np.abs(w.numpy() - r))) for w, r in zip(model.trainable_weights, reference))


def test_weight_averaging_keeps_the_moving_average_across_a_resume(fer_splits, tmp_path):
    """train.ema_momentum: what is validated, checkpointed and kept is the weights' moving average.

    At the largest momentum the average barely leaves the first step's weights, while the weights the
    steps train move on; after an interruption the average is resumed, not restarted from them."""
    train_rows, val_rows = _tiny(fer_splits)
    model = build_model("small_cnn", train_rows.class_names, weights=None, augment=0)
    start = [w.numpy().copy() for w in model.trainable_weights]
    twin = build_model("small_cnn", train_rows.class_names, weights=None, augment=0)
    twin.set_weights(model.get_weights())
    plain = TrainConfig(head_epochs=0, finetune_epochs=3, finetune_lr=1e-2, batch_size=16, lr_schedule="constant")
    moved = _distance(fit(twin, train_rows, val_rows, plain, tmp_path / "plain").model, start)

    averaged = dataclasses.replace(plain, ema_momentum=0.99999)
    with pytest.raises(KeyboardInterrupt):
        fit(model, train_rows, val_rows, averaged, tmp_path / "ema", callbacks=[StopAfter(1)])
    fresh = build_model("small_cnn", train_rows.class_names, weights=None, augment=0)
    result = fit(fresh, train_rows, val_rows, averaged, tmp_path / "ema")
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert _distance(result.model, start) < 0.1 * moved, (_distance(result.model, start), moved)
    assert _distance(keras.saving.load_model(tmp_path / "ema" / "last.keras"), start) < 0.1 * moved


def test_weight_averaging_momentum_must_be_below_one():
    with pytest.raises(ConfigError, match="train.ema_momentum must be between 0.0 and 0.99999"):
        RunConfig().replace(train={"ema_momentum": 1.0})


def _blend_partner(mixed: np.ndarray, images: np.ndarray, index: int) -> tuple[int, float, float]:
    """The face of ``images`` and the share that best explain ``mixed`` as a blend of face ``index`` with it:
    (partner, share of face ``index``, largest pixel error)."""
    own, target = images[index].astype(float).ravel(), mixed.astype(float).ravel()
    best = (index, 1.0, float(np.max(np.abs(target - own))))
    for partner, other in enumerate(images.astype(float).reshape(len(images), -1)):
        span = own - other
        if partner == index or not span.any():
            continue
        share = float(np.clip(np.dot(target - other, span) / np.dot(span, span), 0, 1))
        error = float(np.max(np.abs(target - (share * own + (1 - share) * other))))
        if error < best[2]:
            best = (partner, share, error)
    return best


def test_mixup_blends_each_face_and_its_target_by_the_same_share(fer_splits):
    from emodet.data.feed import ImageBatches, balanced_class_weights

    rows = fer_splits["train"].stratified_sample(700, seed=3)
    weights = balanced_class_weights(rows.labels, 7)
    plain = ImageBatches(rows, 64, shuffle=True, seed=0, class_weights=weights)
    mixed = ImageBatches(rows, 64, shuffle=True, seed=0, class_weights=weights, mixup=0.4)
    images, targets, sample_weights = plain[2]
    blended, blended_targets, blended_weights = mixed[2]
    assert blended.dtype == np.uint8 and blended.shape == images.shape
    assert np.allclose(blended_targets.sum(axis=1), 1.0)
    assert np.sum(blended_targets.max(axis=1) < 0.9) > 10  # many faces are real mixtures
    for face in range(len(images)):
        partner, share, error = _blend_partner(blended[face], images, face)
        assert error <= 1.0, (face, error)  # rounding to uint8 moves a pixel by half a level at most
        expected = share * targets[face] + (1 - share) * targets[partner]
        assert np.allclose(blended_targets[face], expected, atol=0.02), (face, share)
        assert np.isclose(blended_weights[face], share * sample_weights[face] + (1 - share) * sample_weights[partner],
                          atol=0.02 * sample_weights.max())
    assert np.array_equal(mixed[2][0], blended)  # the same blend again: a resumed run sees the same batches
    mixed.on_epoch_end()
    assert not np.array_equal(mixed[2][1], blended_targets)


def test_mixup_is_refused_beside_streaming_and_out_of_range():
    with pytest.raises(ConfigError, match="train.mixup .* data.stream"):
        RunConfig().replace(train={"mixup": 0.2}, data={"stream": True})
    with pytest.raises(ConfigError, match="train.mixup must be between 0.0 and 1.0"):
        RunConfig().replace(train={"mixup": -0.1})
