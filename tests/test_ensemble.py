"""Ensembles average their members' probabilities and behave like any emodet classifier."""

import numpy as np
import pytest

from emodet.errors import ConfigError, ModelError
from emodet.evaluation.saliency import gradcam
from emodet.labels import FER7, FERPLUS8
from emodet.models import build_model, describe, load_model
from emodet.models.ensemble import average_models, ensemble_members


@pytest.fixture(scope="module")
def members():
    """A MobileNetV2 at 64 px and a small CNN at 48 px, both (as if) trained on 48 px faces."""
    import keras

    keras.utils.set_random_seed(0)
    return [build_model("mobilenet_v2", FER7, weights=None, image_size=64, source_size=48, augment=0),
            build_model("small_cnn", FER7, weights=None, image_size=48, source_size=48, augment=0)]


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


def test_each_member_gets_the_crop_at_the_resolution_it_was_trained_on(members, faces):
    """Members trained on 48 px faces take 48 px crops; the 64 px member upsamples them itself, as in
    training, and the 48 px member sees the crop untouched (no 64 -> 48 shrink without antialiasing)."""
    from emodet.inference.runtime import KerasClassifier

    ensemble = average_models(members)
    assert (describe(ensemble).image_size, describe(ensemble).crop_size) == (64, 48)
    classifier = KerasClassifier(ensemble)
    assert classifier.image_size == 48
    rgb = np.repeat(faces, 3, axis=-1)
    inner = {layer.name: layer for layer in classifier.model.layers}
    small = inner["emodet_small_cnn"]
    np.testing.assert_allclose(small.predict(rgb, verbose=0), members[1].predict(rgb, verbose=0), atol=1e-5)
    expected = np.mean([member.predict(rgb, verbose=0) for member in members], axis=0)
    np.testing.assert_allclose(classifier.predict(rgb), expected, atol=1e-5)
