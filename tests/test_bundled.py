"""The bundled model: intact, two small files (ONNX for detection, Keras for training) that predict
alike, self-describing, and as accurate as its model card says."""

import re

import numpy as np
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


def test_the_onnx_file_carries_the_contract_of_the_keras_file_it_was_exported_from():
    from emodet.inference.loading import load_classifier

    path = bundled.bundled_onnx_path()
    assert path.name == bundled.ONNX_FILE and path.stat().st_size < 10e6
    classifier = load_classifier()  # the default model is the ONNX file
    assert classifier.path == path and classifier.class_names == FER7
    assert (classifier.image_size, classifier.color_mode) == (48, "grayscale")
    assert classifier.metadata["source_sha256"] == bundled.MODEL_SHA256
    assert classifier.metadata["model_version"] == bundled.MODEL_VERSION


def test_the_onnx_and_keras_files_predict_alike(fer_splits):
    from emodet.inference.loading import load_classifier
    from emodet.inference.runtime import KerasClassifier

    faces = np.repeat(fer_splits["val"].images[:500], 3, axis=-1)  # 500 real PublicTest faces
    onnx = load_classifier().predict(faces)
    keras = KerasClassifier(bundled.load_bundled_model()).predict(faces)
    assert np.abs(onnx - keras).max() <= bundled.ONNX_TOLERANCE


@pytest.mark.parametrize("name", [bundled.MODEL_FILE, bundled.ONNX_FILE])
def test_a_damaged_or_missing_bundled_model_is_refused(tmp_path, monkeypatch, name):
    from emodet.inference.loading import load_classifier

    fake = tmp_path / "emodet" / "assets" / "models"
    fake.mkdir(parents=True)
    (fake / name).write_bytes(b"not the model")
    monkeypatch.setattr(bundled.resources, "files", lambda package: tmp_path / "emodet")
    load = bundled.load_bundled_model if name == bundled.MODEL_FILE else load_classifier
    with pytest.raises(ModelError, match=f"{re.escape(name)} is damaged or was replaced"):
        load()
    (fake / name).unlink()
    with pytest.raises(ModelError, match=f"{re.escape(name)} is missing"):
        load()


def test_an_onnx_file_exported_from_another_model_is_refused(tmp_path, monkeypatch):
    """Both files intact but from different runs: the ONNX metadata names another Keras file."""
    import onnx

    from emodet.inference.loading import load_classifier

    fake = tmp_path / "emodet" / "assets" / "models"
    fake.mkdir(parents=True)
    proto = onnx.load(str(bundled.bundled_onnx_path()))
    for entry in proto.metadata_props:
        if entry.key == "emodet":
            entry.value = entry.value.replace(bundled.MODEL_SHA256, "0" * 64)
    onnx.save(proto, str(fake / bundled.ONNX_FILE))
    monkeypatch.setattr(bundled, "ONNX_SHA256", bundled.sha256_of(fake / bundled.ONNX_FILE))
    monkeypatch.setattr(bundled.resources, "files", lambda package: tmp_path / "emodet")
    with pytest.raises(ModelError, match="was exported from another model"):
        load_classifier()


@pytest.mark.slow
def test_private_test_accuracy_matches_the_model_card(fer_splits):
    from emodet.inference.loading import load_classifier

    for model in (bundled.load_bundled_model(), load_classifier()):  # the Keras file, then the ONNX file
        report = evaluate(model, fer_splits["test"])
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
