"""Ensembles average their members' probabilities and behave like any emodet classifier."""

import numpy as np
import pytest

from emodet.bundled import bundled_model_paths
from emodet.errors import ConfigError, ModelError
from emodet.evaluation.saliency import gradcam
from emodet.labels import FER7, FERPLUS8
from emodet.models import build_model, describe, load_model
from emodet.models.ensemble import average_models, ensemble_members


@pytest.fixture(scope="module")
def members():
    return [load_model(path) for path in bundled_model_paths()]


@pytest.fixture(scope="module")
def faces(fer_splits):
    return fer_splits["test"].images[:16]  # real 48x48 grayscale faces; every member resizes them itself


def test_ensemble_averages_its_members(members, faces):
    ensemble = average_models(members)
    expected = np.mean([member.predict(faces, verbose=0) for member in members], axis=0)
    assert np.abs(ensemble.predict(faces, verbose=0) - expected).max() < 1e-5
    assert [describe(m).backbone for m in ensemble_members(ensemble)] == ["mobilenet_v2", "small_cnn"]
    assert ensemble_members(members[0]) == []


def test_saved_ensemble_reloads_with_identical_predictions(members, faces, tmp_path):
    ensemble = average_models(members)
    ensemble.save(tmp_path / "ensemble.keras")
    reloaded = load_model(tmp_path / "ensemble.keras")
    assert describe(reloaded) == describe(ensemble)
    np.testing.assert_array_equal(reloaded.predict(faces, verbose=0), ensemble.predict(faces, verbose=0))


def test_members_may_share_a_backbone_and_differ_in_colour_mode(faces):
    twins = [build_model("small_cnn", FER7, weights=None, seed=1),
             build_model("small_cnn", FER7, weights=None, seed=2, color_mode="rgb")]
    ensemble = average_models(twins)
    contract = describe(ensemble)
    assert contract.backbone == "small_cnn+small_cnn" and contract.color_mode == "rgb"
    rgb = np.repeat(faces, 3, axis=-1)  # the contract of every emodet classifier: RGB uint8 images
    assert ensemble.predict(rgb, verbose=0).shape == (len(faces), len(FER7))


def test_bad_ensembles_are_refused(members):
    with pytest.raises(ModelError, match="at least two models"):
        average_models(members[:1])
    ferplus = build_model("small_cnn", FERPLUS8, weights=None)
    with pytest.raises(ModelError, match="different classes"):
        average_models([members[0], ferplus])


def test_gradcam_asks_for_one_member(members, faces):
    with pytest.raises(ConfigError, match="ensemble"):
        gradcam(average_models(members), faces[:2])


def test_report_on_an_ensemble_explains_its_first_member(members, scenario, tmp_path):
    from emodet.evaluation.metrics import evaluate

    ensemble = average_models(members)
    page = evaluate(ensemble, scenario.test).save_html(tmp_path / "ensemble.html", model=ensemble,
                                                       data=scenario.test).read_text(encoding="utf-8")
    assert 'id="gradcam"' in page and "its first member, emodet_mobilenet_v2" in page
