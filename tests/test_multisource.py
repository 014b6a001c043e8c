"""Several training sources in one run (FER2013 + RAF-DB), validation sets by name, and the one
selection rule across them, on real slices of FER2013, RAF-DB and CK+48."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import shared_path

from emodet.config import RunConfig, load_config
from emodet.data.mixture import mixture_order, named_source
from emodet.evaluation.selection import RECALL_FLOOR, selection_score, set_scores
from emodet.labels import FER7


@pytest.fixture(scope="session")
def rafdb_dir():
    return shared_path("data", "rafdb")


def multisource_config(fer_csv, rafdb_dir, ckplus_dir, **train) -> RunConfig:
    return RunConfig().replace(
        data={"source": f"fer2013:{fer_csv}", "sources": [f"rafdb=folder:{rafdb_dir}"], "shares": [0.5, 0.5],
              "validation": [f"ckplus=folder:{ckplus_dir}"], "train_limit": 1500, "val_limit": 300},
        model={"backbone": "mobilenet_v2", "image_size": 48, "augment": 0.0},
        train={"head_epochs": 3, "finetune_epochs": 0, "batch_size": 64, "head_lr": 2e-3, **train})


def test_sources_are_joined_by_class_name_and_validated_separately(fer_csv, rafdb_dir, ckplus_dir):
    from emodet.training.run import load_training_data

    data = load_training_data(multisource_config(fer_csv, rafdb_dir, ckplus_dir))
    assert data.train.class_names == FER7  # RAF-DB's anger/happiness/sadness matched by name, not position
    assert list(data.val_sets) == ["fer2013", "rafdb", "ckplus"]
    assert data.train.images.shape[1:] == (48, 48, 3)  # RAF-DB's 100 px colour faces at FER2013's size
    origin = data.mixture.origin
    assert np.sum(origin == 0) == 1500 and np.sum(origin == 1) == 1500
    # RAF-DB's happiness faces are labelled happy: its class counts survive the renaming.
    raf = data.train.take(np.flatnonzero(origin == 1))
    assert max(raf.class_counts(), key=raf.class_counts().get) == "happy"
    # CK+48 has contempt, which the model does not predict: left out of its validation set.
    assert sum(data.val_sets["ckplus"].class_counts().values()) == len(data.val_sets["ckplus"])
    assert 0 < len(data.val_sets["ckplus"]) < 300


def test_an_epoch_draws_each_source_by_its_share_and_resumes_identically():
    origin = np.repeat([0, 1], [900, 100])  # a large source and a small one
    first = mixture_order(origin, [0.5, 0.5], epoch=0, seed=1)
    assert len(first) == 1000
    assert np.sum(origin[first] == 1) == 500  # the small source fills half: each image 5 times
    assert np.bincount(first[origin[first] == 1]).max() == 5
    assert np.array_equal(first, mixture_order(origin, [0.5, 0.5], epoch=0, seed=1))  # resumable
    # The large source is walked through, not resampled: two epochs see 900 distinct images of it.
    second = mixture_order(origin, [0.5, 0.5], epoch=1, seed=1)
    seen = np.concatenate([first, second])
    assert len(np.unique(seen[origin[seen] == 0])) == 900


def test_named_sources_and_config_lists():
    assert named_source("folder:/data/rafdb-framed/").name == "rafdb-framed"
    assert named_source("fer2013:/x/fer2013.csv").name == "fer2013"
    assert named_source("ck=folder:/x").spec == "folder:/x"
    config = load_config(None, ["data.source=fer2013:/a", "data.sources=folder:/b;folder:/c",
                                "data.shares=[2, 1, 1]"])
    assert config.data.sources == ("folder:/b", "folder:/c") and config.data.shares == (2.0, 1.0, 1.0)
    from emodet.errors import ConfigError

    with pytest.raises(ConfigError, match="data.shares gives 2 share"):
        load_config(None, ["data.source=fer2013:/a", "data.sources=folder:/b;folder:/c", "data.shares=[1, 1]"])
    # An older run's single extra source still loads, as the first of data.sources.
    from emodet.config import from_dict

    old = from_dict({"data": {"extra_source": "folder:/b", "extra_drop_unknown": True}})
    assert old.data.sources == ("folder:/b",) and old.data.drop_unknown_classes


def test_a_candidate_best_on_one_set_that_collapses_a_class_on_another_loses(fer_splits, ckplus_dir):
    """The rule on real labels: candidate A is perfect on FER2013 PublicTest but never says fear on
    CK+48; candidate B is worse on PublicTest and recalls every CK+ class. B is chosen."""
    from emodet.data.classmatch import match_classes
    from emodet.data.sources import load_splits

    public = fer_splits["val"].stratified_sample(700, seed=0)
    ck = match_classes(load_splits(f"folder:{ckplus_dir}", image_size=48)["val"], FER7, drop_unknown=True)
    fear = FER7.index("fear")
    rng = np.random.default_rng(0)

    def noisy(labels, error):  # right except on a random `error` share of faces
        wrong = rng.random(len(labels)) < error
        return np.where(wrong, (labels + 1) % 7, labels)

    a = {"fer2013": set_scores(public.labels, public.labels, FER7),
         "ckplus": set_scores(ck.labels, np.where(ck.labels == fear, FER7.index("surprise"), ck.labels), FER7)}
    b = {"fer2013": set_scores(public.labels, noisy(public.labels, 0.35), FER7),
         "ckplus": set_scores(ck.labels, noisy(ck.labels, 0.2), FER7)}
    assert a["fer2013"].accuracy > b["fer2013"].accuracy and a["ckplus"].worst_recall == 0.0
    assert selection_score(b) > selection_score(a)
    assert selection_score(a) < 0 <= selection_score(b) <= 1
    # Above the floor the mean macro-F1 decides, each set counting once whatever its size.
    assert b["ckplus"].worst_recall >= RECALL_FLOOR
    assert selection_score(b) == pytest.approx((b["fer2013"].macro_f1 + b["ckplus"].macro_f1) / 2)


@pytest.mark.slow
def test_a_short_run_on_fer2013_and_rafdb_learns_both(fer_csv, rafdb_dir, ckplus_dir, tmp_path):
    """ImageNet MobileNetV2 with a new head, 3 epochs on 1,500 FER2013 + 1,500 RAF-DB faces: above
    the majority class on both validation sets; the history, metrics.json and the report name every set."""
    from emodet.training.run import train

    result = train(multisource_config(fer_csv, rafdb_dir, ckplus_dir), tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    counts = json.loads((result.run_dir / "data.json").read_text())["validation_sets"]
    for name in ("fer2013", "rafdb"):
        majority = max(counts[name]["class_counts"].values()) / counts[name]["images"]
        accuracy = metrics["validation_sets"][name]["accuracy"]
        assert accuracy > majority + 0.03, (name, accuracy, majority)
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()[0].split(",")
    assert {"val_score", "val_fer2013_macro_f1", "val_rafdb_accuracy", "val_ckplus_worst_recall"} <= set(history)
    assert metrics["selection"]["score"] == pytest.approx(
        selection_score({n: _scores(s) for n, s in metrics["selection"]["sets"].items()}))
    page = (tmp_path / "run" / "report-val.html").read_text()
    assert "Validation sets" in page and "ckplus" in page


def _scores(d):
    from emodet.evaluation.selection import SetScores

    return SetScores(d["images"], d["accuracy"], d["macro_f1"], d["recalls"])
