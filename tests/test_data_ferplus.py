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


def test_blending_votes_into_fer2013_training_targets(fer_csv, ferplus_csv, fer_splits):
    blended = load_splits(f"fer2013:{fer_csv}", ferplus_votes=str(ferplus_csv), ferplus_blend=0.3)
    train, plain = blended["train"], fer_splits["train"]
    assert train.class_names == plain.class_names and len(train) == len(plain)
    assert np.allclose(train.targets.sum(axis=1), 1.0, atol=1e-5)
    # The label keeps at least 70% of the mass, so the winning class is FER2013's everywhere.
    assert (train.labels == plain.labels).all()
    assert (train.targets.max(axis=1) >= 0.7 - 1e-6).all()
    # Where annotators disagreed with the label, some mass moved to their classes.
    assert (train.targets.max(axis=1) < 0.99).mean() > 0.3
    # Row 0 of the real files: FER2013 says angry; FER+'s votes are spread over other classes.
    votes = np.array([float(v) for v in _row(ferplus_csv, 0)[2:9]])  # neutral..fear; contempt dropped
    fer7_order = [4, 5, 6, 1, 3, 2, 0]  # FER+ columns of angry, disgust, fear, happy, sad, surprise, neutral
    expected = 0.7 * np.eye(7)[plain.labels[0]] + 0.3 * votes[fer7_order] / votes[fer7_order].sum()
    assert train.targets[0] == pytest.approx(expected, abs=1e-5)
    # Validation and test keep FER2013's labels: the protocol is unchanged.
    assert np.array_equal(blended["val"].targets, fer_splits["val"].targets)
    assert np.array_equal(blended["test"].targets, fer_splits["test"].targets)


def test_blending_needs_a_fer2013_source_and_a_votes_file(fer_csv, ferplus_csv):
    from emodet.config import load_config
    from emodet.errors import ConfigError

    with pytest.raises(ConfigError, match="ferplus_votes names no file"):
        load_config(overrides=["data.ferplus_blend=0.3"])
    with pytest.raises(ConfigError, match="use a fer2013:PATH source"):
        load_splits(f"ferplus:{fer_csv},{ferplus_csv}", ferplus_votes=str(ferplus_csv), ferplus_blend=0.3)


def _row(path, index):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for i, row in enumerate(reader):
            if i == index:
                return row
