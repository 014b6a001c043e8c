import gzip

import numpy as np
import pytest

from emodet.data import load_split, load_splits, parse_source, split_name
from emodet.errors import ConfigError, DataError
from emodet.labels import FER7

# Counts from ../shared/data/fer2013/README.md.
SPLIT_COUNTS = {
    "train": {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830, "surprise": 3171,
              "neutral": 4965},
    "val": {"angry": 467, "disgust": 56, "fear": 496, "happy": 895, "sad": 653, "surprise": 415, "neutral": 607},
    "test": {"angry": 491, "disgust": 55, "fear": 528, "happy": 879, "sad": 594, "surprise": 416, "neutral": 626},
}


def test_full_file_splits_and_class_counts(fer_splits):
    assert set(fer_splits) == {"train", "val", "test"}
    for name, counts in SPLIT_COUNTS.items():
        split = fer_splits[name]
        assert split.class_names == FER7
        assert split.class_counts() == counts
        assert split.images.shape[1:] == (48, 48, 1) and split.images.dtype == np.uint8


def test_rows_keep_their_file_position(fer_splits, fer_lines):
    first_test = fer_lines[1 + 300 + 100].split(",")
    test = fer_splits["test"]
    assert test.ids[0] == 32298
    assert test.labels[0] == int(first_test[0])
    assert np.array_equal(test.images[0].ravel(), np.array(first_test[1].split(), dtype=np.uint8))


def test_training_duplicates_are_marked(fer_splits):
    # README: 280 PublicTest and 288 PrivateTest rows are exact pixel duplicates of Training rows.
    assert int(fer_splits["val"].in_train.sum()) == 280
    assert int(fer_splits["test"].in_train.sum()) == 288


def test_plain_csv_and_split_aliases(small_fer_csv):
    test = load_split(f"fer2013:{small_fer_csv}", "PrivateTest")
    assert len(test) == 100 and test.name == "test"
    assert split_name("PublicTest") == "val" and split_name("training") == "train"
    with pytest.raises(ConfigError, match="unknown split"):
        split_name("holdout")


def test_stratified_limit_keeps_proportions(fer_splits):
    sample = fer_splits["train"].stratified_sample(2000, seed=1)
    assert abs(len(sample) - 2000) <= 7
    share = sample.class_counts()["happy"] / len(sample)
    assert abs(share - 7215 / 28709) < 0.01
    again = fer_splits["train"].stratified_sample(2000, seed=1)
    assert np.array_equal(sample.ids, again.ids)


def _write(tmp_path, lines, name="bad.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match="nope.csv does not exist"):
        load_splits(f"fer2013:{tmp_path / 'nope.csv'}")


def test_wrong_header(tmp_path, fer_lines):
    path = _write(tmp_path, ["label,pixels,Usage"] + fer_lines[1:5])
    with pytest.raises(DataError, match="lacks emotion"):
        load_splits(f"fer2013:{path}")


def test_wrong_pixel_count_names_the_line(tmp_path, fer_lines):
    rows = list(fer_lines[:20])
    emotion, pixels, usage = rows[7].split(",")
    rows[7] = ",".join([emotion, " ".join(pixels.split()[:-1]), usage])
    with pytest.raises(DataError, match=r"line 8: .*2304 .*found 2303"):
        load_splits(f"fer2013:{_write(tmp_path, rows)}")


def test_non_numeric_pixels_name_the_line(tmp_path, fer_lines):
    rows = list(fer_lines[:20])
    emotion, pixels, usage = rows[3].split(",")
    values = pixels.split()
    values[10] = "abc"
    rows[3] = ",".join([emotion, " ".join(values), usage])
    with pytest.raises(DataError, match=r"line 4: .*some of them not integers"):
        load_splits(f"fer2013:{_write(tmp_path, rows)}")


def test_bad_emotion_and_usage(tmp_path, fer_lines):
    rows = list(fer_lines[:10])
    rows[2] = "9" + rows[2][1:]
    with pytest.raises(DataError, match=r"line 3: emotion must be an integer 0..6"):
        load_splits(f"fer2013:{_write(tmp_path, rows)}")
    rows = list(fer_lines[:10])
    rows[4] = rows[4].rsplit(",", 1)[0] + ",Holdout"
    with pytest.raises(DataError, match=r"line 5: Usage must be one of"):
        load_splits(f"fer2013:{_write(tmp_path, rows, 'b.csv')}")


def test_empty_dataset_and_empty_file(tmp_path, fer_lines):
    with pytest.raises(DataError, match="no data rows"):
        load_splits(f"fer2013:{_write(tmp_path, fer_lines[:1])}")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_splits(f"fer2013:{empty}")


def test_truncated_gzip(tmp_path, fer_lines):
    data = gzip.compress(("\n".join(fer_lines) + "\n").encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated"):
        load_splits(f"fer2013:{path}")


def test_training_rows_only_has_no_validation(tmp_path, fer_lines):
    path = _write(tmp_path, fer_lines[:50])
    with pytest.raises(DataError, match="no 'val' split|holds no images"):
        load_split(f"fer2013:{path}", "val")


@pytest.mark.parametrize("spec", ["fer2013", "fer:path.csv", "ferplus:one.csv", "folder:", ""])
def test_malformed_source_spec(spec):
    with pytest.raises(ConfigError, match="fer2013:PATH_TO_fer2013.csv"):
        parse_source(spec)
