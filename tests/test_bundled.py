"""The bundled model: intact, self-describing, and as accurate as its model card says."""

import re

import pytest

from conftest import REPO
from emodet import bundled
from emodet.errors import ModelError
from emodet.evaluation.metrics import evaluate
from emodet.labels import FER7
from emodet.models import describe, load_model


def test_bundled_model_is_small_and_carries_its_contract():
    path = bundled.bundled_model_path()
    assert path.stat().st_size < 25e6
    contract = describe(load_model(path))
    assert contract.class_names == FER7 and contract.color_mode == "grayscale"


def test_a_damaged_bundled_model_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "emodet" / "assets" / "models"
    fake.mkdir(parents=True)
    (fake / bundled.MODEL_FILE).write_bytes(b"not the model")
    monkeypatch.setattr(bundled.resources, "files", lambda package: tmp_path / "emodet")
    with pytest.raises(ModelError, match="damaged or was replaced"):
        bundled.bundled_model_path()


@pytest.mark.slow
def test_private_test_accuracy_matches_the_model_card(fer_splits):
    report = evaluate(load_model(bundled.bundled_model_path()), fer_splits["test"])
    assert report.accuracy >= bundled.PRIVATE_TEST_ACCURACY - 0.005, report.format_table()
    card = (REPO / "docs" / "MODEL_CARD.md").read_text()
    quoted = f"{100 * bundled.PRIVATE_TEST_ACCURACY:.2f}%"
    assert quoted in card, f"the model card does not quote the recorded accuracy {quoted}"
    assert re.search(r"emodet train --config configs/bundled-fer2013.yaml", card)
