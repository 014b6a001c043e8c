"""The command line: real runs on a small real slice, and bad input answered without tracebacks."""

import json

import pytest

from emodet.cli import main


def test_train_then_evaluate(small_fer_csv, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    monkeypatch.setenv("EMODET_REGISTRY", str(tmp_path / "registry"))  # every run is logged to a named registry
    code = main(["train", "--data", f"fer2013:{small_fer_csv}", "--backbone", "small_cnn", "--run-dir", str(run),
                 "--quiet", "--tensorboard", "--set", "model.weights=none", "--set", "train.head_epochs=1",
                 "--set", "train.finetune_epochs=1", "--set", "train.batch_size=50"])
    assert code == 0
    out = capsys.readouterr().out
    assert "stage 1" in out and "stage 2" in out and "macro avg" in out
    from emodet.registry import open_registry

    store = open_registry(tmp_path / "registry", create=False)
    (run_id,) = json.loads((run / "mlflow-runs.json").read_text()).values()
    logged = store.client.get_run(run_id).data
    assert logged.params["model.backbone"] == "small_cnn" and "best_val_accuracy" in logged.metrics
    assert [m.step for m in store.client.get_metric_history(run_id, "val_loss")] == [1, 2]
    assert store.client.search_registered_models() == []  # logged, not registered: no --register
    code = main(["evaluate", str(run / "best.keras"), "--data", f"fer2013:{small_fer_csv}",
                 "--split", "PrivateTest", "--tta"])
    assert code == 0
    out = capsys.readouterr().out
    assert "test: 100 images (flip TTA)" in out
    assert (run / "report-val.html").is_file()  # written by train
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))
    page = (run / "best.eval-test-tta.html").read_text()  # and by evaluate
    assert "surprise" in page and "data:image/png;base64," in page
    saved = json.loads((run / "best.eval-test-tta.json").read_text())
    assert saved["images"] == 100 and len(saved["per_class"]) == 7
    assert f"{saved['accuracy']:.4f}" in out
    # --output naming the page: the scores still get their own JSON file beside it.
    assert main(["evaluate", str(run / "best.keras"), "--data", f"fer2013:{small_fer_csv}", "--split", "test",
                 "--output", str(tmp_path / "named.html")]) == 0
    assert json.loads((tmp_path / "named.json").read_text())["images"] == 100
    assert "<html" in (tmp_path / "named.html").read_text().lower()
    # Without --split: the validation split (PublicTest), where models are chosen, never the test split.
    assert main(["evaluate", str(run / "best.keras"), "--data", f"fer2013:{small_fer_csv}"]) == 0
    assert "val: 100 images" in capsys.readouterr().out and (run / "best.eval-val.json").is_file()


@pytest.mark.parametrize("argv, fragment", [
    (["train", "--backbone", "small_cnn"], "no data given"),
    (["train", "--data", "fer2013:/no/such.csv"], "/no/such.csv does not exist"),
    (["train", "--data", "csv:/x"], "is not understood"),
    (["train", "--data", "fer2013:x", "--set", "train.lr=1"], "unknown key in section 'train' 'lr'"),
    (["train", "--resume"], "--resume needs --run-dir"),
    (["evaluate", "/no/model.keras", "--data", "fer2013:x"], "model file /no/model.keras does not exist"),
    (["serve", "--library-threads", "-1"], "--library-threads must be 0"),
    (["retrain", "--data", "folder:x", "--run-dir", "r", "--from-scratch"], "give --config (the recipe) and --replay"),
    (["retrain", "--data", "folder:x", "--run-dir", "r", "--config", "c.yaml"],
     "--config and --set go with --from-scratch"),
    (["retrain", "--data", "folder:x", "--run-dir", "r", "--class-weight-power", "2"],
     "train.class_weight_power must be between 0.0 and 1.0, got 2.0"),
    (["retrain", "--data", "folder:x", "--run-dir", "r", "--augment-blur", "-1"], "model.augment_blur must be between"),
    (["retrain", "--data", "folder:x", "--replay", "fer2013:x", "--run-dir", "r", "--from-scratch", "--config",
      "c.yaml", "--precision", "mixed_bfloat16"], "with --from-scratch the recipe decides these"),
    (["retrain", "--data", "folder:x", "--replay", "fer2013:x", "--run-dir", "r", "--from-scratch", "--config",
      "c.yaml", "--teacher-tta", "crops"], "--set train.teacher_tta=crops"),
    (["export", "--format", "tflite", "--int8", "fer2013:x"], "--int8 quantizes ONNX exports"),
])
def test_bad_input_is_one_line_not_a_traceback(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # a refused run leaves no run folder behind


def test_info_lists_backbones(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "mobilenet_v2" in out and "efficientnet_b0" in out and "contempt" in out


def test_training_offline_without_imagenet_weights_is_one_message_and_no_folder(small_fer_csv, tmp_path):
    """No ImageNet weights in Keras' cache and no network: one line naming the file, where Keras
    looks and what to do, status 2, and no run folder (a real process: Keras reads KERAS_HOME once)."""
    import os
    import subprocess
    import sys

    home = tmp_path / "empty-keras-home"
    home.mkdir()
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "emodet.cli", "train", "--data", f"fer2013:{small_fer_csv}",
                           "--backbone", "mobilenet_v2", "--run-dir", str(run)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "KERAS_HOME": str(home)})
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    line = [x for x in done.stderr.splitlines() if x.startswith("emodet train: error:")]
    assert len(line) == 1
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5" in line[0]
    assert f"are not in Keras' cache {home / 'models'}" in line[0] and "model.weights=none" in line[0]
    assert not run.exists()
