"""The bundled model: intact, one small file, self-describing, and as accurate as its model card says."""

import re

import pytest
from conftest import REPO

from emodet import bundled
from emodet.errors import ModelError
from emodet.evaluation.metrics import evaluate
from emodet.labels import FER7
from emodet.models import describe


def test_bundled_model_is_one_small_file_and_carries_its_contract():
    path = bundled.bundled_model_path()
    assert path.name == bundled.MODEL_FILE and path.stat().st_size < 10e6
    contract = describe(bundled.load_bundled_model())
    assert contract.class_names == FER7 and contract.color_mode == "grayscale"
    assert contract.backbone == "small_cnn" and (contract.image_size, contract.crop_size) == (48, 48)
    assert bundled.bundled_profile_path().is_file()


def test_a_damaged_or_missing_bundled_model_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "emodet" / "assets" / "models"
    fake.mkdir(parents=True)
    (fake / bundled.MODEL_FILE).write_bytes(b"not the model")
    monkeypatch.setattr(bundled.resources, "files", lambda package: tmp_path / "emodet")
    with pytest.raises(ModelError, match=f"{re.escape(bundled.MODEL_FILE)} is damaged or was replaced"):
        bundled.load_bundled_model()
    (fake / bundled.MODEL_FILE).unlink()
    with pytest.raises(ModelError, match=f"{re.escape(bundled.MODEL_FILE)} is missing"):
        bundled.bundled_model_path()


@pytest.mark.slow
def test_private_test_accuracy_matches_the_model_card(fer_splits):
    report = evaluate(bundled.load_bundled_model(), fer_splits["test"])
    assert report.accuracy >= bundled.PRIVATE_TEST_ACCURACY - 0.005, report.format_table()
    card = (REPO / "docs" / "MODEL_CARD.md").read_text()
    quoted = f"{100 * bundled.PRIVATE_TEST_ACCURACY:.2f}%"
    assert quoted in card, f"the model card does not quote the recorded accuracy {quoted}"
    assert re.search(r"emodet train --config configs/fer2013-small_cnn-v3.yaml", card)


@pytest.mark.slow
def test_no_class_collapses_on_faces_from_another_source(ckplus_dir):
    """CK+48 (lab-posed, never trained on): every class the model shares with it is recognised."""
    from emodet.data.folder import load_folder

    report = evaluate(bundled.load_bundled_model(), load_folder(ckplus_dir, 48, 0.0, 0.0, seed=0)["train"],
                      drop_unknown=True)
    recalls = {name: report.per_class[name]["recall"] for name in FER7 if report.per_class[name]["support"]}
    assert min(recalls.values()) >= bundled.CKPLUS_MIN_RECALL - 0.02, recalls
