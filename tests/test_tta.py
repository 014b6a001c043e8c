"""Test-time augmentation: the views it makes, and what it does for the bundled model on real faces."""

import json
import re

import numpy as np
import pytest
from conftest import SAMPLES
from PIL import Image

from emodet import EmotionDetector, bundled
from emodet.cli import main
from emodet.errors import ConfigError
from emodet.evaluation.metrics import evaluate
from emodet.inference.tta import predict_with_tta, tta_label, tta_mode, tta_views


def _gradient(n: int = 2, size: int = 48) -> np.ndarray:
    """Faces whose brightness grows from left to right, so each crop's place shows in its mean."""
    row = np.linspace(0, 255, size).astype(np.uint8)
    return np.broadcast_to(row[None, None, :, None], (n, size, size, 3)).copy()


def test_flip_is_the_face_and_its_mirror_image():
    faces = _gradient()
    views = list(tta_views(faces, "flip"))
    assert len(views) == 2
    assert np.array_equal(views[0], faces) and np.array_equal(views[1], faces[:, :, ::-1])
    assert list(tta_views(faces, True))[1].tobytes() == views[1].tobytes()  # True means flip


def test_crops_are_ten_views_at_the_input_size_from_different_places():
    faces = _gradient()
    views = list(tta_views(faces, "crops"))
    assert len(views) == 10
    assert all(view.shape == faces.shape and view.dtype == np.uint8 for view in views)
    means = [view.mean() for view in views[::2]]  # top-left, top-right, bottom-left, bottom-right, centre
    assert means[0] < means[4] < means[1] and means[0] == means[2] and means[1] == means[3]
    assert np.array_equal(views[1], views[0][:, :, ::-1])  # each crop is followed by its mirror image
    constant = np.full((3, 48, 48), 77, np.uint8)  # grayscale without a channel axis keeps its shape
    assert all(np.array_equal(view, constant) for view in tta_views(constant, "crops"))


def test_no_augmentation_is_one_view_and_unknown_modes_are_refused():
    faces = _gradient()
    assert [v is faces for v in tta_views(faces, None)] == [True]
    assert (tta_mode(False) is None and tta_mode("none") is None and tta_label(None) == ""
            and tta_label("crops") == "ten-crop TTA")
    with pytest.raises(ConfigError, match="'tencrop' is not known; expected one of flip, crops"):
        tta_mode("tencrop")


def test_predictions_are_the_mean_over_the_views():
    faces = _gradient(n=3)
    seen = []

    def predict(views):
        seen.append(views.shape)
        return np.full((len(views), 2), float(len(seen)))

    probs = predict_with_tta(predict, faces, "crops")
    assert len(seen) == 10 and probs.shape == (3, 2) and np.allclose(probs, 5.5)


@pytest.mark.slow
def test_ten_crops_beat_flip_and_plain_on_public_test(fer_splits):
    """The model card's claim, on the whole validation split (deterministic: no randomness)."""
    model = bundled.load_bundled_model()
    scores = {tta: evaluate(model, fer_splits["val"], tta=tta).accuracy for tta in (None, "flip", "crops")}
    assert scores["crops"] > scores["flip"] > scores[None], scores


def test_the_detector_and_the_cli_take_ten_crops(tmp_path, capsys, fer_splits):
    plain = EmotionDetector()(SAMPLES / "astronaut.jpg").faces[0].probs
    cropped = EmotionDetector(tta="crops")(SAMPLES / "astronaut.jpg").faces[0].probs
    assert np.isclose(cropped.sum(), 1.0, atol=1e-4) and not np.allclose(cropped, plain, atol=1e-4)
    with pytest.raises(ConfigError, match="expected one of flip, crops"):
        EmotionDetector(tta="ten")
    for label, name in ((3, "happy"), (5, "surprise")):  # ten real validation faces of each
        folder = tmp_path / "faces" / name
        folder.mkdir(parents=True)
        for k in np.flatnonzero(fer_splits["val"].labels == label)[:10]:
            Image.fromarray(fer_splits["val"].images[k][..., 0]).save(folder / f"{k}.png")
    output = tmp_path / "eval.html"
    assert main(["evaluate", "--data", f"folder:{tmp_path / 'faces'}", "--split", "train", "--tta-crops",
                 "--drop-unknown-classes", "--output", str(output)]) == 0
    assert re.search(r"train: \d+ images \(ten-crop TTA\)", capsys.readouterr().out)
    assert json.loads(output.with_suffix(".json").read_text())["tta"] == "crops"
