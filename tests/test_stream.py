"""Streaming real FER2013 rows and image folders from disk: the same faces as in memory, and training learns."""

import gzip

import cv2
import numpy as np
import pytest

from emodet.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from emodet.data import load_splits
from emodet.data.stream import stream_splits
from emodet.errors import ConfigError, DataError
from emodet.training import train


def test_a_streamed_fer2013_csv_gives_the_faces_and_labels_held_in_memory(small_fer_csv):
    streamed = stream_splits(f"fer2013:{small_fer_csv}", image_size=48)
    memory = load_splits(f"fer2013:{small_fer_csv}")
    assert {k: len(v) for k, v in streamed.items()} == {"train": 300, "val": 100, "test": 100}
    for split in ("train", "val", "test"):
        loaded = streamed[split].load()
        np.testing.assert_array_equal(loaded.labels, memory[split].labels)
        np.testing.assert_array_equal(loaded.images[..., :1], memory[split].images)
    batches = list(streamed["train"].dataset(64, shuffle=True, seed=3, class_weights=np.arange(7.0)))
    assert [len(b[0]) for b in batches] == [64, 64, 64, 64, 44]
    images, targets, weights = batches[0]
    assert images.numpy().shape[1:] == (48, 48, 3) and images.numpy().dtype == np.uint8
    np.testing.assert_allclose(weights.numpy(), np.argmax(targets.numpy(), axis=1))
    labels = np.concatenate([np.argmax(b[1].numpy(), axis=1) for b in batches])
    assert sorted(labels) == sorted(memory["train"].labels)  # every row once per pass, shuffled
    assert not np.array_equal(labels, memory["train"].labels)


def test_a_streamed_folder_lists_every_file_and_skips_unreadable_ones_as_it_reads(fer_splits, tmp_path):
    faces = fer_splits["train"].stratified_sample(140, seed=2)
    for i, (image, label) in enumerate(zip(faces.images, faces.labels)):
        folder = tmp_path / faces.class_names[label]
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"{i:03d}.png"), image[..., 0])
    (tmp_path / "happy" / "broken.png").write_bytes(b"not a png")
    streamed = stream_splits(f"folder:{tmp_path}", image_size=40, seed=5)
    assert sum(len(split) for split in streamed.values()) == len(faces) + 1  # listed, not decoded: broken.png too
    for split in streamed.values():
        broken = int(any(p.endswith("broken.png") for p in split.paths))
        faces = split.load()  # the unreadable file is left out, the pass goes on
        assert faces.images.shape == (len(split) - broken, 40, 40, 3)
        np.testing.assert_array_equal(faces.labels, np.delete(split.labels, np.flatnonzero(
            [p.endswith("broken.png") for p in split.paths])))
        assert sum(len(b[0]) for b in split.dataset(32, shuffle=True)) == len(split) - broken
    first = cv2.resize(cv2.imread(str(streamed["train"].paths[0]), cv2.IMREAD_GRAYSCALE), (40, 40),
                       interpolation=cv2.INTER_AREA)
    assert np.abs(streamed["train"].load().images[0, ..., 0].astype(int) - first).max() <= 2  # as the loader resizes


def test_training_from_a_stream_learns(fer_csv, tmp_path):
    with gzip.open(fer_csv, "rt") as f:
        rows = f.read().splitlines()
    path = tmp_path / "slice.csv.gz"
    with gzip.open(path, "wt") as f:  # 3,000 real Training rows and 300 PublicTest rows
        f.write("\n".join([rows[0]] + rows[1:3001] + rows[28710:29010]) + "\n")
    config = RunConfig(
        data=DataConfig(source=f"fer2013:{path}", stream=True),
        model=ModelConfig(backbone="mobilenet_v2", image_size=48, dropout=0.0, augment=0.5),
        train=TrainConfig(batch_size=64, head_epochs=2, head_lr=3e-3, finetune_epochs=0, class_weights=True,
                          class_weight_power=0.5),
    )
    result = train(config, tmp_path / "run")
    losses = [row["loss"] for row in result.history]
    assert losses[1] < losses[0], losses
    majority = np.bincount(result.val_report.y_true).max() / len(result.val_report.y_true)
    assert result.val_report.accuracy > majority + 0.03, result.val_report.format_table()
    summary = (tmp_path / "run" / "data.json").read_text()
    assert '"images": 3000' in summary


def test_streaming_refuses_what_needs_the_data_in_memory(small_fer_csv, ferplus_csv, tmp_path):
    base = RunConfig(data=DataConfig(source=f"fer2013:{small_fer_csv}", stream=True, train_limit=100),
                     model=ModelConfig(backbone="small_cnn", weights="none"))
    with pytest.raises(ConfigError, match="data.train_limit"):
        train(base, tmp_path / "a")
    with pytest.raises(ConfigError, match="FER\\+ votes need the data in memory"):
        stream_splits(f"ferplus:{small_fer_csv},{ferplus_csv}", image_size=48)
    bad = tmp_path / "bad.csv"
    bad.write_text("label,pixels,usage\n0,1 2 3,Training\n")
    with pytest.raises(DataError, match="bad.csv has columns label, pixels, usage"):
        stream_splits(f"fer2013:{bad}", image_size=48)
    short = tmp_path / "short.csv"
    short.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    with pytest.raises(DataError, match="short.csv line 2 is not a FER2013 row"):
        stream_splits(f"fer2013:{short}", image_size=48)


def test_streamed_evaluation_scores_as_the_in_memory_one(small_fer_csv, fer_splits, tmp_path, capsys):
    import json

    from emodet.bundled import load_bundled_model
    from emodet.cli import main
    from emodet.evaluation.metrics import evaluate, evaluate_stream

    model = load_bundled_model()
    streamed = evaluate_stream(model, stream_splits(f"fer2013:{small_fer_csv}", image_size=48)["test"], batch_size=32)
    memory = evaluate(model, load_splits(f"fer2013:{small_fer_csv}")["test"])
    np.testing.assert_allclose(streamed.probs, memory.probs, atol=1e-5)
    np.testing.assert_array_equal(streamed.y_true, memory.y_true)

    faces = fer_splits["test"].stratified_sample(70, seed=4)  # a folder: classes sorted by name, one unknown
    for i, (image, label) in enumerate(zip(faces.images, faces.labels)):
        (tmp_path / "faces" / faces.class_names[label]).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "faces" / faces.class_names[label] / f"{i:03d}.png"), image[..., 0])
    (tmp_path / "faces" / "contempt").mkdir()
    cv2.imwrite(str(tmp_path / "faces" / "contempt" / "x.png"), faces.images[0, ..., 0])
    split = stream_splits(f"folder:{tmp_path / 'faces'}", image_size=48, val_fraction=0, test_fraction=0)["train"]
    with pytest.raises(DataError, match="does not predict: contempt"):
        evaluate_stream(model, split)
    report = evaluate_stream(model, split, drop_unknown=True)
    assert len(report.y_true) == len(faces)
    assert sorted(report.y_true) == sorted(faces.labels)  # matched to the model's class order by name
    assert report.accuracy > 0.4, report.format_table()

    assert main(["evaluate", "--data", f"fer2013:{small_fer_csv}", "--split", "test", "--stream",
                 "--output", str(tmp_path / "streamed.json")]) == 0
    saved = json.loads((tmp_path / "streamed.json").read_text())
    assert saved["images"] == 100 and abs(saved["accuracy"] - memory.accuracy) < 1e-9
    assert f"{memory.accuracy:.4f}" in capsys.readouterr().out


def test_shards_hold_the_source_faces_and_stream_them(small_fer_csv, tmp_path, capsys):
    from emodet.cli import main

    assert main(["shard", "--data", f"fer2013:{small_fer_csv}", "--output-dir", str(tmp_path / "shards"),
                 "--faces-per-shard", "128"]) == 0
    assert "train: 300 faces" in capsys.readouterr().out
    assert len(list((tmp_path / "shards").glob("train-*.tfrecord"))) == 3
    streamed = stream_splits(f"shards:{tmp_path / 'shards'}", image_size=48)
    memory = load_splits(f"fer2013:{small_fer_csv}")
    for split in ("train", "val", "test"):
        loaded = streamed[split].load()
        np.testing.assert_array_equal(loaded.labels, memory[split].labels)
        np.testing.assert_array_equal(loaded.images[..., :1], memory[split].images)
    labels = np.concatenate([np.argmax(b[1].numpy(), axis=1)
                             for b in streamed["train"].dataset(64, shuffle=True, seed=1)])
    assert sorted(labels) == sorted(memory["train"].labels) and not np.array_equal(labels, memory["train"].labels)
    in_memory = load_splits(f"shards:{tmp_path / 'shards'}")["val"]  # a shards source also loads whole
    np.testing.assert_array_equal(in_memory.labels, memory["val"].labels)
    assert main(["shard", "--data", f"fer2013:{small_fer_csv}", "--output-dir", str(tmp_path / "shards")]) == 2
    assert "is not empty" in capsys.readouterr().err
    with pytest.raises(DataError, match="holds no shards.json"):
        stream_splits(f"shards:{tmp_path}", image_size=48)
