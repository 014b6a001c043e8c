"""The bundled model: intact, self-describing, and as accurate as its model card says."""

import re
import shutil

import pytest

from conftest import REPO
from emodet import bundled
from emodet.errors import ModelError
from emodet.evaluation.metrics import evaluate
from emodet.labels import FER7
from emodet.models import describe


def test_bundled_model_is_small_and_carries_its_contract():
    paths = bundled.bundled_model_paths()
    assert sum(path.stat().st_size for path in paths) < 25e6
    contract = describe(bundled.load_bundled_model())
    assert contract.class_names == FER7 and contract.color_mode == "grayscale"
    assert contract.backbone == "mobilenet_v2+small_cnn" and contract.image_size == 64


def test_a_damaged_bundled_model_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "emodet" / "assets" / "models"
    fake.mkdir(parents=True)
    first, second = (bundled.member_file(backbone) for backbone in bundled.MEMBERS)
    shutil.copyfile(bundled.bundled_model_paths()[0], fake / first)  # one intact member, one damaged
    (fake / second).write_bytes(b"not the model")
    monkeypatch.setattr(bundled.resources, "files", lambda package: tmp_path / "emodet")
    with pytest.raises(ModelError, match=f"{re.escape(second)} is damaged or was replaced"):
        bundled.load_bundled_model()
    (fake / second).unlink()
    with pytest.raises(ModelError, match=f"{re.escape(second)} is missing"):
        bundled.bundled_model_paths()


@pytest.mark.slow
def test_private_test_accuracy_matches_the_model_card(fer_splits):
    report = evaluate(bundled.load_bundled_model(), fer_splits["test"])
    assert report.accuracy >= bundled.PRIVATE_TEST_ACCURACY - 0.005, report.format_table()
    card = (REPO / "docs" / "MODEL_CARD.md").read_text()
    quoted = f"{100 * bundled.PRIVATE_TEST_ACCURACY:.2f}%"
    assert quoted in card, f"the model card does not quote the recorded accuracy {quoted}"
    assert re.search(r"emodet train --config configs/bundled-fer2013.yaml", card)
    assert re.search(r"emodet train --config configs/baseline-small_cnn.yaml", card)
