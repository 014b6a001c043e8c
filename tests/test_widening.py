"""Net2WiderNet (emodet.models.widening, tools/widen_model.py): a wider network that starts where the
trained one is, on real faces."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from emodet.bundled import bundled_model_path
from emodet.errors import ConfigError
from emodet.models import build_model, describe, load_model
from emodet.models.widening import widen


@pytest.fixture(scope="module")
def bundled():
    return load_model(bundled_model_path())


# Wider than every block of small_cnn and of small_cnn_top512: whichever the bundled model is, it can grow into it.
WIDER = "wide_cnn"


def test_a_widened_model_computes_what_the_trained_one_does(bundled, face_images):
    wide = widen(bundled, WIDER, noise=0)
    assert describe(wide).backbone == WIDER
    assert describe(wide).class_names == describe(bundled).class_names
    assert wide.get_layer("backbone").get_layer("block1_conv1").filters == 64
    assert wide.count_params() > 1.4 * bundled.count_params()
    np.testing.assert_allclose(wide.predict(face_images, verbose=0), bundled.predict(face_images, verbose=0),
                               atol=1e-5)


def test_the_copies_get_noise_that_barely_moves_the_predictions(bundled, fer_splits):
    faces = np.repeat(fer_splits["val"].images[:300], 3, axis=-1)
    wide = widen(bundled, WIDER, seed=1)
    kernel = wide.get_layer("backbone").get_layer("block1_conv1").get_weights()[0]  # 32 filters grown to 64
    assert not any(np.allclose(kernel[..., k], kernel[..., j]) for k in range(32, 64) for j in range(32))
    before, after = bundled.predict(faces, verbose=0), wide.predict(faces, verbose=0)
    assert np.mean(before.argmax(1) == after.argmax(1)) >= 0.98
    assert 0 < np.abs(before - after).max() < 0.05


def test_the_tool_writes_a_model_a_run_can_continue(bundled, tmp_path, face_images):
    out = tmp_path / "wide.keras"
    result = subprocess.run([sys.executable, str(REPO / "tools" / "widen_model.py"), str(bundled_model_path()), str(out),
                             "--backbone", WIDER, "--noise", "0", "--check", ""],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert f"{WIDER}, {load_model(out).count_params():,} parameters" in result.stdout
    continued = build_model(WIDER, describe(bundled).class_names, weights=str(out), augment=0)
    np.testing.assert_allclose(continued.predict(face_images, verbose=0), bundled.predict(face_images, verbose=0),
                               atol=1e-5)


def test_only_a_wider_plain_cnn_is_accepted(bundled):
    wide = widen(bundled, WIDER, noise=0)
    with pytest.raises(ConfigError, match=f"is not a wider {WIDER}"):
        widen(wide, "small_cnn")
    with pytest.raises(ConfigError, match="only plain CNN backbones"):
        widen(bundled, "mobilenet_v2_035")


def test_the_tool_names_a_missing_model_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "tools" / "widen_model.py"), str(tmp_path / "none.keras"),
                             str(tmp_path / "wide.keras"), "--backbone", "small_cnn_top512"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode != 0 and "none.keras does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_check_that_cannot_read_its_faces_says_so_after_saving(tmp_path):
    out = tmp_path / "wide.keras"
    result = subprocess.run([sys.executable, str(REPO / "tools" / "widen_model.py"), str(bundled_model_path()),
                             str(out), "--backbone", WIDER, "--check", f"fer2013:{tmp_path / 'none.csv'}"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode != 0 and "none.csv" in result.stderr and "--check '' skips it" in result.stderr
    assert "Traceback" not in result.stderr and out.is_file()
