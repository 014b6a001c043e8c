"""Knowledge distillation: teacher probabilities as training targets, on real FER2013 faces."""

import dataclasses

import numpy as np
import pytest

from emodet.bundled import bundled_model_path
from emodet.cli import main
from emodet.config import RunConfig
from emodet.errors import ConfigError
from emodet.evaluation.metrics import evaluate, predict_proba
from emodet.models.classifier import load_model
from emodet.training.distill import distilled, teacher_probabilities
from emodet.training.run import load_training_data, train


@pytest.fixture(scope="module")
def teacher():
    return load_model(bundled_model_path())


def test_teacher_probabilities_follow_the_data_class_order(fer_splits, teacher):
    faces = fer_splits["val"].stratified_sample(120, seed=3)
    probs = teacher_probabilities([teacher], faces, tta=True)
    assert probs.shape == (len(faces), 7) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(probs, predict_proba(teacher, faces, tta=True), atol=1e-5)
    # The same faces labelled in a folder's alphabetical order, with FER2013's other names for two classes.
    order = np.array([0, 1, 2, 3, 6, 4, 5])  # angry disgust fear happy neutral sad surprise
    names = ("anger", "disgust", "fear", "happy", "neutral", "sadness", "surprise")
    shuffled = dataclasses.replace(faces, targets=faces.targets[:, order], class_names=names)
    assert np.allclose(teacher_probabilities([teacher], shuffled, tta=True), probs[:, order], atol=1e-5)
    # Two teachers: their mean.
    twice = teacher_probabilities([teacher, str(bundled_model_path())], faces, tta=False)
    assert np.allclose(twice, predict_proba(teacher, faces), atol=1e-5)
    # Ten-crop teachers (retrain --teacher-tta crops): the teacher's ten-crop prediction, not its flip one.
    cropped = teacher_probabilities([teacher], faces, tta="crops")
    assert np.allclose(cropped, predict_proba(teacher, faces, tta="crops"), atol=1e-5)
    assert not np.allclose(cropped, probs, atol=1e-3)


def test_a_teacher_without_one_of_the_classes_is_refused(fer_splits, teacher, tmp_path):
    faces = fer_splits["val"].stratified_sample(20, seed=3)
    other = dataclasses.replace(faces, class_names=(*faces.class_names[:6], "contempt"))
    with pytest.raises(ConfigError, match="does not predict contempt"):
        teacher_probabilities([teacher], other)
    with pytest.raises(ConfigError, match="does not exist"):
        teacher_probabilities([tmp_path / "missing.keras"], faces)


def test_distilled_targets_blend_label_and_teacher(fer_splits):
    faces = fer_splits["val"].stratified_sample(10, seed=3)
    uniform = np.full(faces.targets.shape, 1 / 7, np.float32)
    mixed = distilled(faces, uniform, 0.25)
    assert np.allclose(mixed.targets, 0.75 * faces.targets + 0.25 / 7)
    assert np.array_equal(mixed.images, faces.images)
    with pytest.raises(ConfigError, match=r"in \(0, 1\]"):
        distilled(faces, uniform, 1.5)


@pytest.mark.slow
def test_a_student_taught_by_the_teacher_alone_learns(fer_csv, tmp_path, teacher):
    """With the teacher's share at 1 the labels play no part in training: what the student learns
    (above the majority class on held-out PrivateTest faces) it learned from the teacher."""
    config = RunConfig().replace(
        data={"source": f"fer2013:{fer_csv}", "train_limit": 3000, "val_limit": 300},
        model={"backbone": "mobilenet_v2", "image_size": 48, "augment": 0.0},
        train={"head_epochs": 3, "finetune_epochs": 0, "batch_size": 64, "head_lr": 2e-3,
               "teachers": str(bundled_model_path()), "teacher_blend": 1.0, "teacher_tta": "none"})
    train_data = load_training_data(config).train
    assert np.allclose(train_data.targets, predict_proba(teacher, train_data), atol=1e-5)
    result = train(config, tmp_path / "run")
    from emodet.data.sources import load_splits

    test = load_splits(f"fer2013:{fer_csv}")["test"].stratified_sample(700, seed=0)
    report = evaluate(result.model, test)
    majority = max(test.class_counts().values()) / len(test)
    assert report.accuracy > majority + 0.05, report.format_table()
    agreement = np.mean(report.probs.argmax(axis=1) == predict_proba(teacher, test).argmax(axis=1))
    assert agreement > majority + 0.1


def test_teachers_with_no_share_are_refused():
    with pytest.raises(ConfigError, match="teacher_blend is 0"):
        RunConfig().replace(train={"teachers": "a.keras", "teacher_blend": 0.0})


def test_retrain_refuses_a_missing_teacher_in_one_line(ckplus_dir, tmp_path, capsys):
    code = main(["retrain", "--data", f"folder:{ckplus_dir}", "--teacher", str(tmp_path / "none.keras"),
                 "--drop-unknown-classes", "--epochs", "1", "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code != 0 and "none.keras does not exist" in err and "Traceback" not in err
