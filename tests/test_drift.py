"""Drift checks on real model output: the same kind of faces pass, a changed mix of faces is flagged."""

import json

import numpy as np
import pytest

from emodet.errors import DataError
from emodet.evaluation.drift import check_drift, load_profile, probs_from_jsonl, profile_from_probs
from emodet.evaluation.metrics import predict_proba
from emodet.inference.results import FaceResult, FrameResult
from emodet.inference.sinks import Journal, Record
from emodet.labels import FER7


@pytest.fixture(scope="module")
def model():
    from emodet.bundled import load_bundled_model

    return load_bundled_model()


def _detect_jsonl(path, probs):
    """An `emodet detect --jsonl` file with one face per record, carrying these probabilities."""
    journal = Journal(path)
    for i, p in enumerate(probs):
        face = FaceResult((10, 10, 50, 50), 0.9, FER7, p)
        journal.write(Record(f"img{i}.jpg", FrameResult([face], (100, 100), f"img{i}.jpg")))
    journal.write(Record("broken.jpg", error="damaged"))
    journal.close()
    return path


def test_same_source_passes_and_a_changed_mix_is_flagged(model, fer_splits, tmp_path, capsys):
    from emodet.cli import main

    val, test = fer_splits["val"], fer_splits["test"]
    profile = profile_from_probs(FER7, predict_proba(model, val.take(np.arange(1200))))
    profile.save(tmp_path / "profile.json")
    assert load_profile(tmp_path / "profile.json") == profile
    same = _detect_jsonl(tmp_path / "same.jsonl", predict_proba(model, test.take(np.arange(800))))
    assert main(["drift", str(same), "--profile", str(tmp_path / "profile.json")]) == 0
    assert "no drift" in capsys.readouterr().out
    happy_only = test.take(np.flatnonzero(test.labels == FER7.index("happy"))[:300])
    shifted = _detect_jsonl(tmp_path / "shifted.jsonl", predict_proba(model, happy_only))
    code = main(["drift", str(shifted), "--profile", str(tmp_path / "profile.json"), "--plot",
                 str(tmp_path / "drift.png"), "--json", str(tmp_path / "drift.json")])
    assert code == 1 and "the mix of predicted emotions moved" in capsys.readouterr().out
    report = json.loads((tmp_path / "drift.json").read_text())
    assert report["drift"] and report["psi"] > 0.25 and report["window"]["faces"] == 300
    assert (tmp_path / "drift.png").stat().st_size > 5000


def test_bad_drift_inputs_get_clear_errors(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match="holds no faces"):
        probs_from_jsonl(tmp_path / "empty.jsonl", FER7)
    (tmp_path / "junk.jsonl").write_text("\n".join(["not json"] * 20))
    with pytest.raises(DataError, match="not emodet detect output"):
        probs_from_jsonl(tmp_path / "junk.jsonl", FER7)
    with pytest.raises(DataError, match="does not exist"):
        probs_from_jsonl(tmp_path / "missing.jsonl", FER7)
    (tmp_path / "profile.json").write_text('{"class_names": []}')
    with pytest.raises(DataError, match="not a valid profile"):
        load_profile(tmp_path / "profile.json")
    reference = profile_from_probs(FER7, np.eye(7)[[0, 1, 2, 3, 4, 5, 6] * 10])
    assert not check_drift(reference, np.eye(7)[[6, 5, 4, 3, 2, 1, 0] * 5]).drifted
