"""Retraining the bundled model on new real faces (CK+48, split by subject) with FER2013 replay."""

import json

import numpy as np
import pytest

from emodet.data.classmatch import match_classes
from emodet.data.folder import load_folder
from emodet.evaluation.compare import paired_comparison
from emodet.evaluation.metrics import predict_proba
from emodet.labels import FER7
from emodet.training.retrain import LINEAGE, retrain

pytestmark = pytest.mark.slow


def test_retraining_on_new_subjects_beats_the_old_model_on_held_out_subjects(ckplus_dir, fer_csv, tmp_path):
    from emodet.bundled import load_bundled_model

    result = retrain(None, f"folder:{ckplus_dir}", tmp_path / "run", replay=f"fer2013:{fer_csv}", replay_share=0.5,
                     epochs=4, learning_rate=3e-4, drop_unknown=True)
    lineage = json.loads((tmp_path / "run" / LINEAGE).read_text())
    assert lineage["train_images"] > lineage["new_train_images"] > 300  # the mix holds replayed FER2013 faces
    assert len(lineage["train_fingerprint"]) == 16 and (tmp_path / "run" / "profile.json").is_file()
    # Held-out CK+ subjects (the test split never trained on): the retrained model is better, significantly.
    test = match_classes(load_folder(ckplus_dir, 48, 0.1, 0.1, seed=42)["test"], FER7, drop_unknown=True)
    old = predict_proba(load_bundled_model(), test).argmax(axis=1)
    new = predict_proba(result.model, test).argmax(axis=1)
    comparison = paired_comparison("CK+ test subjects", test.labels, old, new)
    assert comparison.delta > 0.05 and comparison.p_value < 0.05, comparison
    assert np.mean(new == test.labels) > 0.7
