"""The upkeep workflow end to end on real data, through the CLI, with a real MLflow registry.

The bundled FER2013 model is registered as champion and evaluated on CK+48 (another source:
lab-posed faces, split by subject); retrained from the champion with CK+'s training subjects plus
FER2013 replay and registered as a child version; compared on the CK+ test subjects and FER2013
PublicTest and promoted; `emodet detect` then loads the new champion by name; rolled back. A
retraining that fails never touches the registry. Also: retraining from scratch on the union.
"""

import json

import numpy as np
import pytest
from conftest import SAMPLES, read_records

from emodet.cli import main
from emodet.registry import open_registry
from emodet.registry.store import TAG, _sha256

pytestmark = pytest.mark.slow


def test_evaluate_retrain_compare_promote_detect_rollback(ckplus_dir, fer_csv, tmp_path, capsys):
    reg = ["--registry", str(tmp_path / "registry")]
    ck, ck_options = f"folder:{ckplus_dir}", ["--drop-unknown-classes"]
    assert main(["registry", "add", "--name", "emodet", "--alias", "champion", *reg]) == 0
    assert main(["evaluate", "models:/emodet@champion", "--data", ck, "--split", "test", *ck_options, "--output",
                 str(tmp_path / "before.json"), *reg]) == 0
    before = json.loads((tmp_path / "before.json").read_text())

    run = tmp_path / "retrain"
    assert main(["retrain", "models:/emodet@champion", "--data", ck, "--replay", f"fer2013:{fer_csv}", *ck_options,
                 "--epochs", "4", "--run-dir", str(run), "--register", "emodet", *reg]) == 0
    store = open_registry(tmp_path / "registry")
    child = store.version("emodet", 2)
    assert child.parent == "1" and child.aliases == ()  # registered, not deployed
    assert child.tags[TAG + "sha256"] == _sha256(run / "best.keras")
    assert len(child.tags[TAG + "train_fingerprint"]) == len(child.tags[TAG + "val_fingerprint"]) == 16
    history = store.client.get_metric_history(child.run_id, "val_accuracy")
    assert [m.step for m in history] == [1, 2, 3, 4]  # metrics per epoch
    run_info = store.client.get_run(child.run_id)
    assert run_info.data.params["retrain.replay_share"] == "0.8"
    logged = {f.path for f in store.client.list_artifacts(child.run_id, "run")}
    assert "run/report-val.html" in logged and "run/lineage.json" in logged

    capsys.readouterr()
    assert main(["compare", "models:/emodet/2", "--current", "models:/emodet@champion", "--data", ck, *ck_options,
                 "--reference", f"fer2013:{fer_csv}", "--json", str(tmp_path / "compare.json"), "--promote",
                 *reg]) == 0, capsys.readouterr().out
    comparison = json.loads((tmp_path / "compare.json").read_text())
    new_data, reference = comparison["sets"]
    # The real effect: on CK+ subjects never trained on, the retrained model is better beyond chance,
    # while FER2013 PublicTest stays within the one-point tolerance.
    assert new_data["delta"] > 0.05 and new_data["p_value"] < 0.05 and new_data["ci_low"] > 0
    assert new_data["current_accuracy"] == pytest.approx(before["accuracy"], abs=1e-9)
    assert reference["images"] == 3589 and reference["delta"] > -0.01
    champion = store.resolve("models:/emodet@champion")
    assert champion.version == "2" and champion.tags[TAG + "promoted_from"] == "1"
    assert json.loads(champion.tags[TAG + "comparison"])["sets"][0]["images"] == new_data["images"]
    kept = {f.path for f in store.client.list_artifacts(child.run_id, "promotion")}
    assert kept == {"promotion/champion-v2.json"}  # the whole comparison, beside the run

    faces_now = _detect_probs(tmp_path / "after.jsonl", reg)
    from emodet import EmotionDetector

    sample = str(SAMPLES / "astronaut.jpg")
    assert np.allclose(faces_now, EmotionDetector(str(run / "best.keras"))(sample).faces[0].probs, atol=1e-4)
    assert main(["registry", "rollback", "emodet", *reg]) == 0
    assert store.resolve("models:/emodet@champion").version == "1"
    assert np.allclose(_detect_probs(tmp_path / "rolled.jsonl", reg), EmotionDetector()(sample).faces[0].probs,
                       atol=1e-4)

    # A retraining that fails (here: an unknown class in the new data) leaves the registry as it was.
    assert main(["retrain", "models:/emodet@champion", "--data", ck, "--replay", f"fer2013:{fer_csv}",
                 "--epochs", "1", "--run-dir", str(tmp_path / "failed"), "--register", "emodet", *reg]) == 2
    assert "contempt" in capsys.readouterr().err
    assert [v.version for v in store.versions("emodet")] == ["1", "2"]
    assert store.resolve("models:/emodet@champion").version == "1"


def _detect_probs(jsonl, reg) -> np.ndarray:
    assert main(["detect", str(SAMPLES / "astronaut.jpg"), "--model", "models:/emodet@champion", "--jsonl",
                 str(jsonl), "--quiet", *reg]) == 0
    faces = read_records(jsonl)[0]["faces"]
    assert len(faces) == 1
    return np.array(list(faces[0]["probs"].values()))


def test_retraining_from_scratch_on_the_union_learns_both(ckplus_dir, fer_csv, tmp_path, capsys):
    config = tmp_path / "recipe.yaml"
    config.write_text("model: {backbone: small_cnn, image_size: 48, weights: none, augment: 0}\n"
                      "data: {train_limit: 4000, val_limit: 600}\n"
                      "train: {batch_size: 32, head_epochs: 0, finetune_epochs: 4, finetune_lr: 0.002, patience: 4}\n")
    run = tmp_path / "union"
    assert main(["retrain", "--from-scratch", "--config", str(config), "--data", f"folder:{ckplus_dir}",
                 "--replay", f"fer2013:{fer_csv}", "--drop-unknown-classes", "--run-dir", str(run)]) == 0
    data = json.loads((run / "data.json").read_text())
    assert data["source"].startswith("fer2013:")
    assert data["train"]["images"] > 4000 + 500  # FER2013's slice plus CK+'s training subjects
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val"]["accuracy"] > 2 / 7  # well above chance on FER2013 + CK+ validation faces


def test_class_weighted_retraining_with_blur_learns(ckplus_dir, tmp_path):
    """The bundled recipe's options (class weights, blur, float32: this CPU runs bfloat16 ten times slower,
    test_training covers it) in a fine-tuning: saved in float32, learns CK+."""
    from emodet.bundled import load_bundled_model
    from emodet.data.classmatch import match_classes
    from emodet.data.sources import load_splits
    from emodet.evaluation.metrics import evaluate
    from emodet.models.classifier import describe, load_model
    from emodet.training.retrain import retrain

    result = retrain(None, f"folder:{ckplus_dir}", tmp_path / "run", epochs=2, learning_rate=3e-4, drop_unknown=True,
                     class_weight_power=0.5, augment_blur=1.0, precision="float32")
    saved = load_model(tmp_path / "run" / "best.keras")
    policies = {layer.dtype_policy.name for layer in [*saved.layers, *saved.get_layer("backbone").layers]}
    assert policies == {"float32"}
    assert result.lineage["class_weight_power"] == 0.5 and result.lineage["precision"] == "float32"
    val = match_classes(load_splits(f"folder:{ckplus_dir}", image_size=describe(saved).crop_size)["val"],
                        describe(saved).class_names, drop_unknown=True)
    before = evaluate(load_bundled_model(), val).accuracy
    assert evaluate(saved, val).accuracy == pytest.approx(result.val_accuracy, abs=1e-6)
    assert result.val_accuracy > before + 0.05  # CK+'s own validation subjects, never trained on


def test_keep_parent_saves_the_mean_of_the_parent_and_the_chosen_epoch(ckplus_dir, tmp_path):
    """WiSE-FT (--keep-parent): the saved weights are the weighted mean of the starting model's and the
    chosen epoch's (its checkpoint in the run folder), and the mean still learned CK+."""
    from emodet.bundled import load_bundled_model
    from emodet.data.classmatch import match_classes
    from emodet.data.sources import load_splits
    from emodet.evaluation.metrics import evaluate
    from emodet.models.classifier import describe, load_model
    from emodet.training.retrain import retrain

    run = tmp_path / "run"
    result = retrain(None, f"folder:{ckplus_dir}", run, epochs=2, learning_rate=3e-4, drop_unknown=True,
                     keep_parent=0.5)
    assert result.lineage["keep_parent"] == 0.5
    saved, parent = load_model(run / "best.keras"), load_bundled_model()
    chosen = load_model(run / "best.keras")
    chosen.load_weights(run / "best.weights.h5")
    for name in ("backbone", "emotion_head"):
        for mean, own, start in zip(*(m.get_layer(name).get_weights() for m in (saved, chosen, parent))):
            np.testing.assert_allclose(mean, 0.5 * own + 0.5 * start, rtol=1e-5, atol=1e-6)
    val = match_classes(load_splits(f"folder:{ckplus_dir}", image_size=describe(saved).crop_size)["val"],
                        describe(saved).class_names, drop_unknown=True)
    assert result.val_accuracy > evaluate(parent, val).accuracy + 0.03  # CK+'s validation subjects, never trained on


@pytest.mark.parametrize("options, message", [(["--keep-parent", "1"], "must be in [0, 1)"),
                                              (["--keep-parent", "0.5", "--from-scratch"], "has none")])
def test_keep_parent_refuses_what_it_cannot_do(ckplus_dir, tmp_path, capsys, options, message):
    assert main(["retrain", "--data", f"folder:{ckplus_dir}", "--run-dir", str(tmp_path / "run"), *options]) == 2
    assert message in capsys.readouterr().err
