"""A tiny real KerasTuner search on a few hundred FER2013 rows: table, best config, resume."""

import csv

import pytest

from emodet.cli import main
from emodet.config import RunConfig, load_config
from emodet.errors import ConfigError
from emodet.training.search_space import DEFAULT_SPACE, load_space
from emodet.training.tuning import tune

pytestmark = pytest.mark.slow

SPACE = {
    "train.head_lr": {"type": "float", "min": 1e-3, "max": 3e-2, "sampling": "log"},
    "model.dropout": {"type": "choice", "values": [0.0, 0.4]},
    "train.optimizer": {"type": "choice", "values": ["adam", "sgd"]},
}


@pytest.fixture
def base_config(fer_csv):
    return RunConfig().replace(
        data={"source": f"fer2013:{fer_csv}", "train_limit": 300, "val_limit": 100},
        model={"backbone": "small_cnn", "weights": "none", "image_size": 32, "augment": 0},
        train={"head_epochs": 1, "finetune_epochs": 1, "batch_size": 50},
    )


def test_bayesian_search_table_best_config_and_resume(base_config, tmp_path):
    first = tune(base_config, SPACE, tmp_path, algorithm="bayesian", max_trials=2)
    assert len(first.rows) == 2 and all(r.status == "COMPLETED" for r in first.rows)
    assert first.rows[0].score >= first.rows[1].score
    assert set(first.rows[0].settings) == set(SPACE)
    # best.yaml is a config `emodet train --config` accepts, holding the best trial's settings.
    best = load_config(first.best_config_path)
    assert best.model.dropout == first.rows[0].settings["model.dropout"]
    assert best.train.optimizer == first.rows[0].settings["train.optimizer"]
    assert best.data == base_config.data and best.model.backbone == "small_cnn"
    with open(first.results_path) as f:
        assert len(list(csv.DictReader(f))) == 2
    # Resuming with a larger budget runs only the missing trial.
    with pytest.raises(ConfigError, match="already holds a search"):
        tune(base_config, SPACE, tmp_path, max_trials=3)
    with pytest.raises(ConfigError, match="train.batch_size is 50 there and 25 here"):
        tune(base_config.replace(train={"batch_size": 25}), SPACE, tmp_path, max_trials=3, resume=True)
    resumed = tune(base_config, SPACE, tmp_path, algorithm="bayesian", max_trials=3, resume=True)
    assert len(resumed.rows) == 3
    assert {r.trial for r in first.rows} < {r.trial for r in resumed.rows}


def test_hyperband_through_the_cli_with_a_time_budget(base_config, tmp_path, capsys):
    config = tmp_path / "base.yaml"
    from emodet.config import save_config

    save_config(base_config, config)
    code = main(["tune", "--config", str(config), "--algorithm", "hyperband", "--max-epochs", "3",
                 "--budget", "1s", "--tune-dir", str(tmp_path / "hb")])
    out = capsys.readouterr().out
    assert code == 0
    assert "trial" in out and "best settings" in out
    with open(tmp_path / "hb" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1  # the 1-second budget lets the first trial run, then stops the search


def test_search_space_file_and_errors(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("train.batch_size: null\nmodel.backbone: {type: choice, values: [mobilenet_v2, small_cnn]}\n")
    space = load_space(path)
    assert "train.batch_size" not in space and space["model.backbone"]["values"] == ["mobilenet_v2", "small_cnn"]
    assert len(space) == len(DEFAULT_SPACE)
    path.write_text("train.lr: {type: float, min: 0.1, max: 1}\n")
    with pytest.raises(ConfigError, match="not a setting"):
        load_space(path)
    path.write_text("train.head_lr: {type: float, min: 1, max: 0.1}\n")
    with pytest.raises(ConfigError, match="min < max"):
        load_space(path)
