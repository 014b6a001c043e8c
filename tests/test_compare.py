"""Paired comparison of two models: McNemar and bootstrap intervals, and the promotion rule."""

import numpy as np
import pytest

from emodet.evaluation.compare import format_comparisons, paired_comparison, promotion_verdict


def _predictions(n, current_right, candidate_right, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 7, n)
    wrong = (truth + 1) % 7
    current = np.where(np.arange(n) < current_right, truth, wrong)
    candidate = np.where(rng.permutation(n) < candidate_right, truth, wrong)
    return truth, current, candidate


def test_one_point_on_300_images_is_not_significant():
    truth, current, candidate = _predictions(300, 180, 183)
    result = paired_comparison("new", truth, current, candidate)
    assert result.delta == pytest.approx(0.01)
    assert result.p_value > 0.05 and result.ci_low < 0 < result.ci_high
    assert promotion_verdict(result, result)[0] is False


def test_a_large_gain_is_and_the_rule_checks_the_reference():
    truth, current, candidate = _predictions(300, 150, 240, seed=1)
    new = paired_comparison("new", truth, current, candidate)
    assert new.p_value < 1e-6 and new.ci_low > 0.2
    truth2, current2, candidate2 = _predictions(1000, 650, 620, seed=2)
    worse = paired_comparison("FER2013 PublicTest", truth2, current2, candidate2)
    promote, why = promotion_verdict(new, worse, tolerance=0.01)
    assert not promote and "more than the 1-point tolerance" in why
    assert promotion_verdict(new, worse, tolerance=0.05)[0]
    assert "McNemar p" in format_comparisons([new, worse])


def test_identical_models_give_p_one():
    truth, current, _ = _predictions(50, 30, 30)
    result = paired_comparison("same", truth, current, current)
    assert result.p_value == 1.0 and result.delta == 0 and (result.ci_low, result.ci_high) == (0, 0)


def test_compare_command_on_real_models_and_data(ckplus_dir, fer_csv, tmp_path, capsys):
    """An untrained model against the bundled one on CK+ (split by subject) and FER2013 PublicTest."""
    import json

    import keras

    from emodet.cli import main
    from emodet.labels import FER7
    from emodet.models import build_model

    keras.utils.set_random_seed(0)
    build_model("small_cnn", FER7, weights=None, augment=0).save(tmp_path / "untrained.keras")
    code = main(["compare", str(tmp_path / "untrained.keras"), "--data", f"folder:{ckplus_dir}",
                 "--drop-unknown-classes", "--reference", f"fer2013:{fer_csv}", "--json", str(tmp_path / "c.json")])
    out = capsys.readouterr().out
    assert code == 1 and "do not promote: not better on folder test" in out
    result = json.loads((tmp_path / "c.json").read_text())
    new, reference = result["sets"]
    assert new["candidate_accuracy"] < new["current_accuracy"] and new["ci_high"] < 0
    assert reference["images"] == 3589 and reference["p_value"] < 1e-6
    # The selection rule over the same sets: the untrained model names one class, so it recalls no
    # face of another (worst recall 0: below the floor, score negative), and the line says which class on which set.
    assert -1.0 <= result["selection"]["candidate"] < 0
    assert "selection rule, candidate: score -0." in out and "below the 30% floor" in out
