import csv

import numpy as np
import pytest

from emodet.data import load_splits
from emodet.errors import DataError
from emodet.labels import FERPLUS8


@pytest.fixture(scope="module")
def votes(ferplus_csv):
    with open(ferplus_csv, newline="") as f:
        rows = list(csv.reader(f))
    return rows


@pytest.fixture(scope="module")
def ferplus(fer_csv, ferplus_csv):
    return load_splits(f"ferplus:{fer_csv},{ferplus_csv}")


def test_majority_protocol_classes_and_dropped_rows(ferplus, votes):
    assert ferplus["train"].class_names == FERPLUS8
    usable = [r for r in votes[1:] if max(range(10), key=lambda i: (float(r[2 + i]), -i)) < 8]
    total = sum(len(s) for s in ferplus.values())
    assert total == len(usable)
    assert 0 < len(votes) - 1 - total < 1000  # unknown / NF winners are dropped, not many
    assert ferplus["train"].class_counts()["contempt"] > 0


def test_join_is_by_row_position(ferplus, fer_splits, votes):
    train = ferplus["train"]
    # Row 0 of fer2013new.csv: neutral 4, sadness 1, anger 3, disgust 2 -> neutral wins.
    assert votes[1][2:12] == ["4", "0", "0", "1", "3", "2", "0", "0", "0", "0"]
    assert train.ids[0] == 0 and FERPLUS8[train.labels[0]] == "neutral"
    # The pixels of a FER+ image are those of the fer2013.csv row at the same position.
    k = 1234
    row = int(train.ids[k])
    assert np.array_equal(train.images[k], fer_splits["train"].images[row])


def test_soft_targets_are_vote_distributions(fer_csv, ferplus_csv, votes):
    soft = load_splits(f"ferplus:{fer_csv},{ferplus_csv}", soft_targets=True)["train"]
    assert np.allclose(soft.targets.sum(axis=1), 1.0)
    first = np.array([4, 0, 0, 1, 3, 2, 0, 0], dtype=np.float32)
    assert np.allclose(soft.targets[0], first / first.sum())


def test_misaligned_votes_file_is_rejected(tmp_path, fer_csv, votes):
    short = tmp_path / "short.csv"
    with open(short, "w", newline="") as f:
        csv.writer(f).writerows(votes[:-1])
    with pytest.raises(DataError, match="joins row by row"):
        load_splits(f"ferplus:{fer_csv},{short}")
    shifted = tmp_path / "shifted.csv"
    rows = [votes[0]] + votes[2:28711] + [votes[1]] + votes[28711:]
    with open(shifted, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(DataError, match="not aligned row by row"):
        load_splits(f"ferplus:{fer_csv},{shifted}")


def test_votes_file_with_wrong_header(tmp_path, fer_csv, votes):
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as f:
        csv.writer(f).writerows([votes[0][:-1]] + [r[:-1] for r in votes[1:5]])
    with pytest.raises(DataError, match="lacks NF"):
        load_splits(f"ferplus:{fer_csv},{bad}")
