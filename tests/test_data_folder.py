import numpy as np
import pytest
from PIL import Image

from emodet.data import load_splits
from emodet.errors import DataError


def _save_faces(folder, faces, mode):
    folder.mkdir(parents=True, exist_ok=True)
    for i, face in enumerate(faces):
        gray = face[..., 0]
        if mode == "L":
            Image.fromarray(gray).save(folder / f"{i}.png")
        elif mode == "RGB":
            Image.fromarray(np.repeat(gray[..., None], 3, axis=-1)).resize((96, 80)).save(folder / f"{i}.jpg")
        elif mode == "RGBA":
            rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
            Image.fromarray(rgba, "RGBA").save(folder / f"{i}.png")
        elif mode == "I;16":
            Image.fromarray(gray.astype(np.uint16) * 257).save(folder / f"{i}.png")


@pytest.fixture
def class_folder(tmp_path, fer_splits):
    train = fer_splits["train"]
    happy = train.images[train.labels == 3][:20]
    sad = train.images[train.labels == 4][:20]
    _save_faces(tmp_path / "data" / "happy", happy[:10], "L")
    _save_faces(tmp_path / "data" / "happy" / "more", happy[10:], "RGB")
    _save_faces(tmp_path / "data" / "sad", sad[:10], "RGBA")
    (tmp_path / "data" / "sad" / "x").mkdir()
    _save_faces(tmp_path / "data" / "sad" / "x", sad[10:], "I;16")
    return tmp_path / "data"


def test_class_folders_with_mixed_modes_are_split_stratified(class_folder):
    splits = load_splits(f"folder:{class_folder}", image_size=64, val_fraction=0.2, test_fraction=0.2, seed=3)
    assert splits["train"].class_names == ("happy", "sad")
    assert {n: len(s) for n, s in splits.items()} == {"train": 24, "val": 8, "test": 8}
    for split in splits.values():
        assert split.class_counts() == {"happy": len(split) // 2, "sad": len(split) // 2}
        assert split.images.shape[1:] == (64, 64, 3)
    # 16-bit PNGs are scaled, not clipped to white: their mean stays a normal face brightness.
    sixteen = [i for i, p in enumerate(splits["train"].ids) if "/x/" in p]
    assert sixteen and 40 < splits["train"].images[sixteen].mean() < 200


def test_unreadable_files_are_skipped_and_reported(class_folder):
    (class_folder / "happy" / "notes.txt").write_text("not an image")
    (class_folder / "sad" / "empty.jpg").write_bytes(b"")
    data = Image.open(class_folder / "sad" / "0.png")
    data.save(class_folder / "sad" / "cut.png")
    raw = (class_folder / "sad" / "cut.png").read_bytes()
    (class_folder / "sad" / "cut.png").write_bytes(raw[: len(raw) // 2])
    splits = load_splits(f"folder:{class_folder}", image_size=48, val_fraction=0.1, test_fraction=0.1)
    skipped = dict(splits["train"].skipped)
    assert sum(len(s) for s in splits.values()) == 40
    assert set(skipped) == {str(class_folder / "happy" / "notes.txt"), str(class_folder / "sad" / "empty.jpg"),
                            str(class_folder / "sad" / "cut.png")}
    assert "0-byte" in skipped[str(class_folder / "sad" / "empty.jpg")]


def test_given_train_val_test_folders(tmp_path, fer_splits):
    train = fer_splits["train"]
    for split, start in (("train", 0), ("val", 10), ("test", 20)):
        for label, name in ((0, "angry"), (5, "surprise")):
            _save_faces(tmp_path / split / name, train.images[train.labels == label][start:start + 5], "L")
    splits = load_splits(f"folder:{tmp_path}", image_size=48)
    assert {n: len(s) for n, s in splits.items()} == {"train": 10, "val": 10, "test": 10}
    assert splits["val"].class_names == ("angry", "surprise")


def test_empty_and_one_class_folders(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_splits(f"folder:{tmp_path / 'missing'}")
    (tmp_path / "only").mkdir()
    with pytest.raises(DataError, match="at least two"):
        load_splits(f"folder:{tmp_path}")
    (tmp_path / "other").mkdir()
    with pytest.raises(DataError, match="no readable images"):
        load_splits(f"folder:{tmp_path}")


def test_evaluate_lists_the_files_it_could_not_read(class_folder, tmp_path, capsys):
    """`emodet evaluate` on a folder with unreadable files says how many and names the first ones
    (all of them in the JSON) instead of scoring the rest without a word."""
    import json

    from emodet.cli import main

    (class_folder / "happy" / "notes.txt").write_text("not an image")
    (class_folder / "sad" / "empty.jpg").write_bytes(b"")
    output = tmp_path / "eval.json"
    assert main(["evaluate", "--data", f"folder:{class_folder}", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "2 file(s) could not be read and are not scored" in out and "notes.txt" in out
    assert len(json.loads(output.read_text())["skipped"]) == 2


def test_a_folder_with_train_and_test_only_gets_a_val_part_of_train(tmp_path, fer_splits):
    """RAF-DB's layout (train/ and test/, no val/): a seeded, stratified val_fraction of train/ is held out."""
    train = fer_splits["train"]
    for label, name in ((3, "happy"), (4, "sad")):
        _save_faces(tmp_path / "d" / "train" / name, train.images[train.labels == label][:20], "L")
        _save_faces(tmp_path / "d" / "test" / name, train.images[train.labels == label][20:25], "L")
    splits = load_splits(f"folder:{tmp_path / 'd'}", image_size=48, val_fraction=0.2, seed=1)
    assert {n: len(s) for n, s in splits.items()} == {"train": 32, "val": 8, "test": 10}
    assert splits["val"].class_counts() == {"happy": 4, "sad": 4}
    again = load_splits(f"folder:{tmp_path / 'd'}", image_size=48, val_fraction=0.2, seed=1)
    assert list(again["val"].ids) == list(splits["val"].ids)
    assert not set(splits["val"].ids) & set(splits["train"].ids)
