"""Exported models (ONNX, TFLite, SavedModel) agree with Keras and run without TensorFlow."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import SAMPLES

import emodet
from emodet.bundled import bundled_model_path, load_bundled_model
from emodet.errors import ConfigError, ModelError
from emodet.inference.loading import load_classifier
from emodet.inference.runtime import KerasClassifier, OnnxClassifier, TFLiteClassifier


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    model = load_bundled_model()
    return {fmt: emodet.export(model, folder / name, fmt)
            for fmt, name in (("onnx", "m.onnx"), ("tflite", "m.tflite"), ("saved_model", "saved"))}


@pytest.fixture(scope="module")
def faces(fer_splits):
    keras_classifier = load_classifier()
    import cv2

    size = keras_classifier.image_size
    gray = fer_splits["test"].images[:32, :, :, 0]
    return keras_classifier, np.stack([np.repeat(cv2.resize(g, (size, size))[..., None], 3, -1) for g in gray])


@pytest.mark.parametrize("fmt, cls", [("onnx", OnnxClassifier), ("tflite", TFLiteClassifier)])
def test_exported_probabilities_match_keras(exported, faces, fmt, cls):
    keras_classifier, batch = faces
    runtime = load_classifier(exported[fmt])
    assert isinstance(runtime, cls)
    assert (runtime.class_names, runtime.image_size, runtime.color_mode) == \
        (keras_classifier.class_names, keras_classifier.image_size, keras_classifier.color_mode)
    expected = keras_classifier.predict(batch)
    assert np.abs(runtime.predict(batch) - expected).max() < 1e-4
    assert np.abs(runtime.predict(batch[:1]) - expected[:1]).max() < 1e-4  # batch 1 after batch 32


@pytest.mark.parametrize("fmt", ["keras", "onnx", "tflite"])
def test_every_runtime_scores_a_labelled_dataset_alike(exported, fer_splits, fmt):
    """Classifier.predict_images, the one path of evaluation and of training's validation: grayscale
    images at the dataset's size, fed in batches, give every runtime the Keras model's probabilities."""
    keras_classifier = KerasClassifier(load_bundled_model())
    classifier = keras_classifier if fmt == "keras" else load_classifier(exported[fmt])
    images = fer_splits["test"].images[:40]
    assert images.shape[1:] == (48, 48, 1)
    expected = keras_classifier.source.predict(np.repeat(images, 3, -1), verbose=0)
    probs = classifier.predict_images(images, batch_size=16)
    assert probs.shape == (40, 7) and np.abs(probs - expected).max() < 1e-4
    assert classifier.predict_images(images[:0]).shape == (0, 7)


def test_saved_model_carries_its_contract(exported):
    contract = json.loads((exported["saved_model"] / "emodet.json").read_text())
    assert contract["class_names"] == list(emodet.FER7)
    assert (exported["saved_model"] / "saved_model.pb").is_file()


def test_detector_runs_onnx_without_tensorflow(exported, model_cache):
    code = (
        "import sys; from emodet import EmotionDetector; "
        f"r = EmotionDetector({str(exported['onnx'])!r}, detector='yunet')({str(SAMPLES / 'astronaut.jpg')!r}); "
        "assert len(r.faces) == 1, r; print(r.faces[0].label); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() in emodet.FER7


def test_bad_export_requests(tmp_path):
    with pytest.raises(ConfigError, match="not supported"):
        emodet.export(bundled_model_path(), tmp_path / "m.pt", "torchscript")
    (tmp_path / "plain.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="cannot load ONNX model"):
        load_classifier(tmp_path / "plain.onnx")
    (tmp_path / "m.tflite").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="no emodet contract"):
        load_classifier(tmp_path / "m.tflite")


def test_export_command_without_a_model_exports_the_bundled_model(tmp_path, monkeypatch, capsys):
    from emodet.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["export", "--format", "onnx"]) == 0
    assert "the bundled model" in capsys.readouterr().out
    runtime = load_classifier(tmp_path / "emodet-fer2013.onnx")
    assert runtime.class_names == emodet.FER7 and runtime.image_size == 48


def _with_onnx_metadata(source, target, value):
    import onnx

    proto = onnx.load(str(source))
    for entry in proto.metadata_props:
        if entry.key == "emodet":
            entry.value = value
    onnx.save(proto, str(target))
    return target


@pytest.mark.parametrize("value, message", [("{not json", "is not valid JSON"),
                                            ('{"class_names": ["a", "b"]}', "lacks image_size, color_mode"),
                                            ('{"class_names": 3, "image_size": "x", "color_mode": "rgb"}',
                                             "malformed value")])
def test_corrupt_onnx_contract_is_a_model_error(exported, tmp_path, value, message):
    path = _with_onnx_metadata(exported["onnx"], tmp_path / "bad.onnx", value)
    with pytest.raises(ModelError, match=message) as info:
        load_classifier(path)
    assert str(path) in str(info.value) and "emodet export" in str(info.value)


@pytest.mark.parametrize("sidecar, message", [("[1, 2", "is not valid JSON"), ("[]", "lacks class_names"),
                                              ('{"image_size": 48}', "lacks class_names, color_mode")])
def test_corrupt_tflite_sidecar_is_a_model_error_with_exit_status_2(exported, tmp_path, sidecar, message, capsys):
    import shutil

    from emodet.cli import main

    model = tmp_path / "bad.tflite"
    shutil.copy(exported["tflite"], model)
    (tmp_path / "bad.tflite.json").write_text(sidecar)
    with pytest.raises(ModelError, match=message):
        load_classifier(model)
    assert main(["detect", str(SAMPLES / "astronaut.jpg"), "--model", str(model)]) == 2
    assert message in capsys.readouterr().err


def test_int8_onnx_export_is_smaller_and_agrees_with_float(exported, fer_csv, fer_splits, tmp_path, capsys):
    from emodet.cli import main

    int8 = tmp_path / "m.int8.onnx"
    assert main(["export", "--format", "onnx", "--int8", f"fer2013:{fer_csv}", "--output", str(int8)]) == 0
    assert int8.stat().st_size < 0.4 * exported["onnx"].stat().st_size
    quantized, full = load_classifier(int8), load_classifier(exported["onnx"])
    assert quantized.class_names == full.class_names and quantized.image_size == full.image_size
    test = fer_splits["val"].take(np.arange(600))
    batch = np.repeat(test.images, 3, axis=-1)
    q, f = quantized.predict(batch).argmax(1), full.predict(batch).argmax(1)
    # The same decision on most faces. Version 4.1 (the bundled model) agrees on 98% of PublicTest and
    # gains 0.4 point there; run 4 agreed on 98% and lost 0.2, run 3 on 87% and lost 1.6: docs/MODEL_CARD.md.
    assert np.mean(q == f) > 0.85
    assert np.mean(q == test.labels) > np.mean(f == test.labels) - 0.02
    assert main(["export", "--format", "tflite", "--int8", f"fer2013:{fer_csv}"]) == 2
    assert "--int8 quantizes ONNX exports" in capsys.readouterr().err
