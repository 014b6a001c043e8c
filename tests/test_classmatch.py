"""Dataset classes are matched to a model's by name, on real data (CK+48 against FER2013's classes)."""

import numpy as np
import pytest

from emodet.data.classmatch import match_classes
from emodet.data.folder import load_folder
from emodet.errors import DataError
from emodet.evaluation.metrics import EvaluationReport
from emodet.labels import FER7, canonical_label


@pytest.fixture(scope="module")
def ckplus(ckplus_dir):
    return load_folder(ckplus_dir, 48, 0.0, 0.0, seed=0)["train"]


@pytest.mark.parametrize("name, canonical", [("Anger", "angry"), ("sadness", "sad"), ("HAPPINESS", "happy"),
                                             ("surprised", "surprise"), ("fearful", "fear"), ("Disgust", "disgust"),
                                             ("contempt", "contempt"), ("bored", "bored")])
def test_canonical_label(name, canonical):
    assert canonical_label(name) == canonical


def test_ckplus_folders_map_onto_fer2013_classes_by_name(ckplus):
    assert ckplus.class_names[:3] == ("anger", "contempt", "disgust")  # alphabetical, not FER2013's order
    matched = match_classes(ckplus, FER7, drop_unknown=True)
    assert matched.class_names == FER7
    counts = matched.class_counts()
    # The dataset's README: 135 anger, 177 disgust, 75 fear, 207 happy, 84 sadness, 249 surprise frames.
    assert counts == {"angry": 135, "disgust": 177, "fear": 75, "happy": 207, "sad": 84, "surprise": 249, "neutral": 0}
    assert len(matched) == len(ckplus) - 54  # the 54 contempt frames are left out, and recorded
    assert sum("contempt" in reason for _, reason in matched.skipped) == 54
    # An image keeps its label through the mapping: a file under anger/ is angry.
    k = next(i for i, path in enumerate(matched.ids) if "/anger/" in str(path))
    assert FER7[matched.labels[k]] == "angry"


def test_unknown_classes_are_refused_with_both_class_lists(ckplus):
    with pytest.raises(DataError) as info:
        match_classes(ckplus, FER7)
    message = str(info.value)
    assert "contempt" in message and "anger, contempt" in message and "angry, disgust" in message
    assert "--drop-unknown-classes" in message


def test_macro_averages_cover_the_classes_present_only():
    # Two of three classes occur; a perfect classifier on them scores 1.0, not 2/3.
    report = EvaluationReport(("a", "b", "c"), np.array([0, 1, 1]), np.eye(3)[[0, 1, 1]])
    assert report.averaged("macro")["f1"] == pytest.approx(1.0)
    assert report.per_class["c"]["support"] == 0


def test_an_empty_subset_is_a_row_not_a_crash():
    report = EvaluationReport(("a", "b"), np.array([], int), np.zeros((0, 2)), "empty")
    assert np.isnan(report.accuracy) and report.per_class["a"]["support"] == 0
    assert "0 images" in report.format_table()
    assert report.confusion.shape == (2, 2)


def test_ckplus_is_split_by_subject(ckplus_dir):
    import csv

    splits = load_folder(ckplus_dir, 48, 0.15, 0.2, seed=0)
    with open(ckplus_dir / "labels.csv", newline="") as f:
        subject = {row["path"].split("/")[-1]: row["subject"] for row in csv.DictReader(f)}
    people = {name: {subject[str(i).split("/")[-1]] for i in split.ids} for name, split in splits.items()}
    assert not (people["train"] & people["val"]) and not (people["train"] & people["test"]) \
        and not (people["val"] & people["test"])
    total = sum(len(split) for split in splits.values())
    assert total == 981 and 0.15 <= len(splits["test"]) / total < 0.3 and 0.1 <= len(splits["val"]) / total < 0.25


def test_evaluating_photos_through_the_detector(fer_splits, tmp_path, capsys, model_cache):
    """Labelled photos (real FER2013 faces pasted into larger frames) scored through detection and
    alignment, as `emodet detect` sees them; a photo without a face is counted, not scored."""
    import json

    import cv2

    from emodet.cli import main

    faces = fer_splits["val"]
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name, label in (("happiness", 3), ("surprised", 5)):
            folder = tmp_path / "photos" / split / name
            folder.mkdir(parents=True)
            for i in np.flatnonzero(faces.labels == label)[:15]:
                frame = np.full((360, 480), 120, np.uint8)
                side = int(rng.integers(120, 200))
                x, y = int(rng.integers(0, 480 - side)), int(rng.integers(0, 360 - side))
                frame[y:y + side, x:x + side] = cv2.resize(faces.images[i, ..., 0], (side, side),
                                                           interpolation=cv2.INTER_CUBIC)
                cv2.imwrite(str(folder / f"{i}.jpg"), frame)
    cv2.imwrite(str(tmp_path / "photos" / "test" / "happiness" / "empty.jpg"), np.full((360, 480), 120, np.uint8))
    output = tmp_path / "photos.json"
    code = main(["evaluate", "--data", f"folder:{tmp_path / 'photos'}", "--split", "test", "--faces", "detect",
                 "--detector", "yunet", "--output", str(output)])
    out = capsys.readouterr().out
    assert code == 0 and "1 photo(s) had no face and are not scored" in out
    report = json.loads(output.read_text())
    assert report["images"] == 30 and report["photos_without_a_face"][0].endswith("empty.jpg")
    assert report["accuracy"] > 0.6, out  # happy and surprise are FER2013's easiest classes
