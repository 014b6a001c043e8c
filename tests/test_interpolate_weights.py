"""tools/interpolate_weights.py: a weighted mean of models' weights is one model of the same network."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from emodet.bundled import bundled_model_path
from emodet.models import build_model, describe, load_model


def _tool():
    spec = importlib.util.spec_from_file_location("interpolate_weights", REPO / "tools" / "interpolate_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fresh_path(tmp_path_factory):
    """The bundled network's architecture, newly initialised: a second, different member."""
    path = tmp_path_factory.mktemp("members") / "fresh.keras"
    build_model(describe(load_model(bundled_model_path())).backbone, image_size=48, weights=None, seed=1).save(path)
    return path


def _run(*args):
    return subprocess.run([sys.executable, str(REPO / "tools" / "interpolate_weights.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


def test_the_full_weight_on_one_member_is_that_member(fresh_path, tmp_path, face_images):
    out = tmp_path / "same.keras"
    assert _run(out, f"1={bundled_model_path()}", f"0={fresh_path}").returncode == 0
    expected = load_model(bundled_model_path()).predict(face_images, verbose=0)
    np.testing.assert_allclose(load_model(out).predict(face_images, verbose=0), expected, atol=1e-6)


def test_each_weight_is_the_weighted_mean_of_the_members(fresh_path, tmp_path):
    out = tmp_path / "mean.keras"
    result = _run(out, f"0.25={bundled_model_path()}", fresh_path)  # the second takes what is left: 0.75
    assert result.returncode == 0, result.stderr
    bundled, fresh = load_model(bundled_model_path()).get_weights(), load_model(fresh_path).get_weights()
    for mean, a, b in zip(load_model(out).get_weights(), bundled, fresh):
        np.testing.assert_allclose(mean, 0.25 * a + 0.75 * b, rtol=1e-5, atol=1e-6)
    assert _tool().member_weights([None, None, None]) == pytest.approx([1 / 3] * 3)


def test_a_file_that_is_not_a_model_is_refused_by_name(tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip archive")
    result = _run(tmp_path / "out.keras", bundled_model_path(), broken)
    assert result.returncode != 0 and "Traceback" not in result.stderr and "broken.keras" in result.stderr


def test_members_of_different_networks_are_refused_by_name(tmp_path):
    other = tmp_path / "six-classes.keras"
    build_model("small_cnn", ["angry", "disgust", "fear", "happy", "sad", "surprise"], image_size=48,
                weights=None).save(other)
    result = _run(tmp_path / "out.keras", bundled_model_path(), other)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "six-classes.keras does not have the architecture of" in result.stderr
    assert not (tmp_path / "out.keras").exists()


@pytest.mark.parametrize("members, message", [(["0.7=a.keras", "0.5=b.keras"], "sum to 1"),
                                              (["x=a.keras", "b.keras"], "WEIGHT=PATH"),
                                              (["a.keras"], "at least two"),
                                              (["a.keras", "b.keras"], "model file a.keras does not exist")])
def test_bad_arguments_get_a_clear_error(tmp_path, members, message):
    result = _run(tmp_path / "out.keras", *members)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr
