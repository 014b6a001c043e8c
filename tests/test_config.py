import pytest

from emodet.config import RunConfig, load_config, save_config
from emodet.errors import ConfigError


def test_defaults_then_file_then_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  backbone: resnet50\ntrain:\n  batch_size: 16\n  head_lr: 0.01\n")
    config = load_config(path, ["train.batch_size=8", "data.source=fer2013:x.csv"])
    assert config.model.backbone == "resnet50"  # from the file
    assert config.train.batch_size == 8  # the override wins over the file
    assert config.train.head_lr == 0.01
    assert config.train.finetune_lr == RunConfig().train.finetune_lr  # untouched default
    assert config.data.source == "fer2013:x.csv"


def test_round_trip_through_a_file(tmp_path):
    config = RunConfig().replace(train={"optimizer": "sgd", "head_epochs": 3})
    save_config(config, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == config


@pytest.mark.parametrize("written, read", [("true", "flip"), ("false", "none"), ("crops", "crops"), ("null", "none")])
def test_teacher_tta_is_a_mode_and_older_booleans_still_read(tmp_path, written, read):
    path = tmp_path / "old.yaml"
    path.write_text(f"train:\n  teacher_tta: {written}\n")  # configs saved before it named a mode hold a boolean
    assert load_config(path).train.teacher_tta == read
    assert load_config(None, [f"train.teacher_tta={written}"]).train.teacher_tta == read


@pytest.mark.parametrize("override, fragment", [
    ("train.batch_sise=3", "did you mean 'batch_size'"),
    ("trian.batch_size=3", "did you mean 'train'"),
    ("train.batch_size=many", "must be an integer"),
    ("train.optimizer=rmsprop", "adam, adamw, sgd"),
    ("model.dropout=1.5", "between 0.0 and 0.95"),
    ("train.head_lr=0", "must be positive"),
    ("train.class_weights=maybe", "true or false"),
    ("train.teacher_tta=mirror", "none, flip, crops"),
    ("batch_size", "section.key=value"),
])
def test_bad_settings_name_the_key_and_the_fix(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(None, [override])


def test_missing_or_malformed_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
