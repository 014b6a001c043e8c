"""tools/gpu: the data packed for a lent GPU machine must be FER2013 itself, and its driver must run."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, SHARED

from emodet.data import load_splits

pytestmark = pytest.mark.slow


def _tool(name):
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", REPO / "tools" / "gpu" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def packed(fer_csv, ferplus_csv, tmp_path_factory):
    """FER2013 as tools/gpu/prepare.py packs it for the GPU machine."""
    prepare = _tool("prepare")
    folder = tmp_path_factory.mktemp("carry")
    rows = prepare.pack_fer2013(SHARED, folder)
    return folder / prepare.DATA_FILE, rows


def test_packed_fer2013_unpacks_to_the_same_training_and_validation_faces(packed, fer_csv, ferplus_csv, fer_splits,
                                                                          tmp_path):
    packed, rows = packed
    assert rows == len(fer_splits["train"]) + len(fer_splits["val"])
    assert packed.stat().st_size < 56 * 2**20  # with the repository, under the device tool's 64 MiB
    csv_path, votes_path = _tool("train").unpack(packed, tmp_path / "work")
    unpacked = load_splits(f"fer2013:{csv_path}", ferplus_votes=str(votes_path), ferplus_blend=0.3)
    original = load_splits(f"fer2013:{fer_csv}", ferplus_votes=str(ferplus_csv), ferplus_blend=0.3)
    assert len(unpacked.get("test", ())) == 0  # PrivateTest stays on this machine
    for split in ("train", "val"):
        assert np.array_equal(unpacked[split].images, original[split].images)  # lossless
        assert np.array_equal(unpacked[split].labels, original[split].labels)
        np.testing.assert_allclose(unpacked[split].targets, original[split].targets)  # FER+ votes joined alike


def test_the_driver_runs_teacher_then_student_on_jax(packed, tmp_path):
    """As on the GPU machine (Keras on JAX), with tiny budgets and data: the wiring, not the accuracy."""
    out = tmp_path / "out"
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, str(REPO / "tools" / "gpu" / "train.py"), "--data",
                           str(packed[0]), "--out", str(out), "--work", str(tmp_path / "work"),
                           "--teacher-minutes", "0.1", "--student-minutes", "0.1", "--total-minutes", "30",
                           "--set", "data.train_limit=300", "--set", "data.val_limit=100",
                           "--set", "model.augment=0", "--set", "model.augment_blur=0"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "on jax" in done.stdout
    assert {p.name for p in out.iterdir()} == {"student.keras", "teacher.npz", "teacher-history.csv",
                                               "student-history.csv", "summary.json"}
    assert all(p.stat().st_size < 16 * 2**20 for p in out.iterdir())  # what the device tool returns
    from emodet.models.classifier import describe, load_model

    assert describe(load_model(out / "student.keras")).backbone == "small_cnn"
    # The teacher comes back as float16 weights; tools/gpu/teacher.py makes a model of them again.
    subprocess.run([sys.executable, str(REPO / "tools" / "gpu" / "teacher.py"), str(out / "teacher.npz"),
                    str(tmp_path / "teacher.keras")], env=env, check=True, capture_output=True, timeout=300)
    rebuilt, trained = load_model(tmp_path / "teacher.keras"), load_model(tmp_path / "work" / "teacher" / "best.keras")
    assert describe(rebuilt).backbone == "wide_cnn"
    faces = np.repeat(packed_faces(packed[0]), 3, axis=-1)
    np.testing.assert_allclose(rebuilt.predict(faces, verbose=0), trained.predict(faces, verbose=0), atol=0.02)


def packed_faces(path, n=32):
    """The first ``n`` faces of a packed file, (n, 48, 48, 1) uint8."""
    return _tool("train")._decode_mosaic(np.load(path)["mosaic0"])[:n, ..., None]
