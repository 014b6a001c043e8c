"""Shared fixtures: the real data in ../shared, an offline Keras cache, small real slices.

The shared folder is found at ``$EMODET_SHARED`` or ``../shared`` beside the repository. When
it is missing, tests that need it skip locally but FAIL under CI (``CI`` set): CI must never
pass by skipping the real data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMODET_SHARED", REPO.parent / "shared"))
SAMPLES = REPO / "src" / "emodet" / "assets" / "samples"


def _offline_keras_home() -> None:
    """Point KERAS_HOME at a writable copy of the shared ImageNet weights, before Keras loads."""
    if os.environ.get("KERAS_HOME") or not (SHARED / "keras").is_dir():
        return
    home = Path(tempfile.mkdtemp(prefix="emodet-keras-home-"))
    shutil.copytree(SHARED / "keras", home, dirs_exist_ok=True)
    for path in home.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    os.environ["KERAS_HOME"] = str(home)


_offline_keras_home()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def shared_path(*parts: str) -> Path:
    """A path inside ../shared, or skip (fail under CI) when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"real test data missing: {path} (set EMODET_SHARED to the shared folder)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def fer_csv() -> Path:
    return shared_path("data", "fer2013", "fer2013.csv.gz")


@pytest.fixture(scope="session")
def ferplus_csv() -> Path:
    return shared_path("data", "fer2013", "fer2013new.csv")


@pytest.fixture(scope="session")
def fer_splits(fer_csv):
    from emodet.data import load_splits

    return load_splits(f"fer2013:{fer_csv}")


@pytest.fixture(scope="session")
def fer_lines(fer_csv) -> list[str]:
    """The header and first rows of each split of the real fer2013.csv, as text lines."""
    import gzip

    with gzip.open(fer_csv, "rt") as f:
        lines = f.read().splitlines()
    header, rows = lines[0], lines[1:]
    picked = rows[:300] + rows[28709:28709 + 100] + rows[32298:32298 + 100]
    return [header] + picked


@pytest.fixture
def small_fer_csv(tmp_path, fer_lines) -> Path:
    """A 500-row fer2013.csv made of real rows (300 Training, 100 PublicTest, 100 PrivateTest)."""
    path = tmp_path / "fer2013_small.csv"
    path.write_text("\n".join(fer_lines) + "\n")
    return path


@pytest.fixture(scope="session")
def face_images(fer_splits) -> np.ndarray:
    """Twelve real FER2013 test faces as RGB uint8 (12, 48, 48, 3)."""
    return np.repeat(fer_splits["test"].images[:12], 3, axis=-1)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """An emodet model cache seeded with the detector files from ../shared/face, set as EMODET_CACHE.

    The real download code then finds them through its normal cache-hit path.
    """
    from emodet.inference import model_files

    cache = tmp_path_factory.mktemp("emodet-cache")
    for spec in model_files.MODEL_FILES.values():
        shutil.copyfile(shared_path("face", spec.filename), cache / spec.filename)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMODET_CACHE", str(cache))
        yield cache


def load_sample(name: str) -> np.ndarray:
    """A bundled sample photo as RGB uint8."""
    from emodet.imageio import read_image

    return read_image(SAMPLES / name)


@pytest.fixture(scope="session")
def scenario(fer_splits):
    """A small real evaluation for the figure and report tests: a small CNN fitted briefly on 320
    FER2013 training faces, evaluated on 200 PublicTest faces (10 of them also in training)."""
    import tempfile
    from types import SimpleNamespace

    import keras

    import emodet
    from emodet.config import TrainConfig
    from emodet.evaluation.metrics import evaluate
    from emodet.training.fit import fit

    train = fer_splits["train"].stratified_sample(320, seed=0)
    public = fer_splits["val"]
    # 190 faces seen only in PublicTest and 10 whose pixels also occur in training, so the report
    # carries its de-duplicated subset.
    fresh, duplicated = np.flatnonzero(~public.in_train), np.flatnonzero(public.in_train)
    test = public.take(np.sort(np.concatenate([fresh[:190], duplicated[:10]])))
    val = public.take(fresh[190:350])
    keras.utils.set_random_seed(0)
    model = emodet.build_model("small_cnn", emodet.FER7, weights=None, image_size=48)
    scratch = tempfile.TemporaryDirectory(prefix="emodet-test-plots-")  # removed when the session ends
    run_dir = Path(scratch.name)
    result = fit(model, train, val, TrainConfig(head_epochs=1, finetune_epochs=1, batch_size=64), run_dir)
    report = evaluate(result.model, test)
    yield SimpleNamespace(model=result.model, fit=result, fit_dir=run_dir, scratch=scratch, test=test,
                          report=report, counts={"train": train.class_counts(), "val": val.class_counts(),
                                                 "test": test.class_counts()})


@pytest.fixture(scope="session")
def ckplus_dir() -> Path:
    """CK+48: lab-posed faces from another source than FER2013, labelled by folder name."""
    return shared_path("data", "ckplus48")


#: Debian's Chromium, which the page tests drive headless (the serve page, the detection report).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium the README's test command on a fresh machine may lack: a skip that says how to
    install it, except under CI (which installs it, .ci/run) where it is a failure."""
    if not Path(CHROMIUM).is_file():
        message = (f"headless Chromium not found at {CHROMIUM}: install it with "
                   "`sudo apt-get install chromium` (Debian) to run the web page tests")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def read_records(path) -> list[dict]:
    """The records of a --jsonl file or Ray shard as the file holds them, without its run headers
    (``{"run": {...}}`` lines, checked to be exactly the lines without a ``source``)."""
    import json

    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert all(("run" in line) != ("source" in line) for line in lines), "a line is neither a record nor a header"
    return [line for line in lines if "source" in line]
