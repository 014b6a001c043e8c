import os
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import emodet
from emodet.errors import ConfigError, ModelError
from emodet.labels import FER7, FERPLUS8
from emodet.models import build_model, describe, get_backbone, list_backbones, load_model, unfreeze_top_blocks
from emodet.models.backbones import layer_blocks


@pytest.mark.parametrize("name", list_backbones())
def test_every_backbone_builds_a_working_classifier(name):
    model = build_model(name, FERPLUS8, image_size=48, weights=None, augment=0)
    images = np.random.default_rng(0).integers(0, 255, (2, 37, 53, 3), dtype=np.uint8)  # any input size
    probs = model.predict(images, verbose=0)
    assert probs.shape == (2, 8)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    contract = describe(model)
    assert contract.class_names == FERPLUS8 and contract.image_size == 48 and contract.backbone == name
    blocks = layer_blocks(model.get_layer("backbone"), get_backbone(name).block_pattern)
    assert len(blocks) > get_backbone(name).finetune_blocks  # the fine-tune boundary lies inside


def test_mobilenet_v2_loads_real_imagenet_weights_offline():
    weights_file = Path(os.environ["KERAS_HOME"]) / "models" / \
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    assert weights_file.is_file()
    model = build_model("mobilenet_v2", FER7, image_size=64)
    kernel = model.get_layer("backbone").get_layer("Conv1").get_weights()[0]
    with h5py.File(weights_file, "r") as f:
        stored = f["Conv1/Conv1/kernel"][()]
    assert np.allclose(stored, kernel)
    # A frozen pretrained backbone: only the head trains in stage 1.
    assert not model.get_layer("backbone").trainable
    assert len(model.trainable_weights) == 2


def test_unfreezing_keeps_batchnorm_frozen():
    model = build_model("mobilenet_v2", FER7, image_size=48, weights=None)
    unfreeze_top_blocks(model, 3)
    backbone = model.get_layer("backbone")
    trainable = [layer for layer in backbone.layers if layer.trainable_weights]
    assert trainable and all(not isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)
    names = {layer.name for layer in trainable}
    assert any(n.startswith("block_16_") for n in names) and "Conv_1" in names
    assert not any(n.startswith("block_13_") for n in names)  # only the top 3 blocks (14, 15, 16)


def test_save_load_round_trip_gives_identical_predictions(tmp_path, face_images):
    model = build_model("mobilenet_v2", FER7, image_size=48, weights=None)
    before = model.predict(face_images, verbose=0)
    model.save(tmp_path / "m.keras")
    # Plain Keras loads it once emodet's layers are registered; emodet.load_model does that itself.
    import emodet.models.layers  # noqa: F401

    plain = keras.saving.load_model(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert np.array_equal(loaded.predict(face_images, verbose=0), before)
    assert np.array_equal(plain.predict(face_images, verbose=0), before)
    assert describe(loaded) == describe(model)


def test_a_run_can_continue_from_a_saved_classifier(face_images):
    """model.weights=<.keras>: the bundled model's backbone and head in a training graph (with augmentation)."""
    from emodet.bundled import bundled_model_path, load_bundled_model

    path = str(bundled_model_path())
    continued = build_model("small_cnn", FER7, image_size=48, weights=path, augment=1.0, augment_blur=1.0)
    # Augmentation is off at inference: the continued model predicts what the bundled one does.
    expected = load_bundled_model().predict(face_images, verbose=0)
    assert np.allclose(continued.predict(face_images, verbose=0), expected, atol=1e-5)
    with pytest.raises(ConfigError, match="is a small_cnn model .* continue from a model of the same backbone"):
        build_model("wide_cnn", FER7, image_size=48, weights=path)
    with pytest.raises(ConfigError, match="same backbone and classes"):
        build_model("small_cnn", FERPLUS8, image_size=48, weights=path)


def test_grayscale_contract_ignores_colour():
    model = build_model("small_cnn", FER7, weights=None, augment=0)
    rgb = np.random.default_rng(1).integers(0, 255, (1, 48, 48, 3), dtype=np.uint8)
    gray = (rgb @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)
    tiled = np.repeat(gray[..., None], 3, axis=-1)
    assert np.allclose(model.predict(rgb, verbose=0), model.predict(tiled, verbose=0), atol=1e-3)


def test_bad_model_arguments_and_files(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'mobilenet_v2'"):
        build_model("mobilenet_v3", FER7)
    with pytest.raises(ConfigError, match="distinct"):
        build_model("small_cnn", ["happy", "happy"], weights=None)
    with pytest.raises(ConfigError, match="no ImageNet weights"):
        build_model("small_cnn", FER7, weights="imagenet")
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "none.keras")
    (tmp_path / "broken.keras").write_bytes(b"PK not really a zip")
    with pytest.raises(ModelError, match="is not a valid Keras file"):
        load_model(tmp_path / "broken.keras")
    with pytest.raises(ModelError, match="not a .keras file"):
        (tmp_path / "m.h5").write_bytes(b"x")
        load_model(tmp_path / "m.h5")


def test_public_api_is_lazy():
    import subprocess
    import sys

    code = ("import sys, emodet; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; "
            "print(emodet.FER7)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "angry" in out.stdout
    assert emodet.build_model is build_model
