"""The detection pipeline on the bundled model, the default detector and real photos."""

import json

import numpy as np
import pytest
from conftest import SAMPLES, load_sample
from PIL import Image

from emodet import EmotionDetector
from emodet.inference.tracking import FaceTracker, iou_matrix
from emodet.labels import FER7


@pytest.fixture(scope="module")
def detector():
    return EmotionDetector()  # the bundled model and the default (offline) detector


def test_one_face_with_full_results(detector):
    result = detector(SAMPLES / "astronaut.jpg")
    assert len(result.faces) == 1 and result.image_size == (512, 512)
    face = result.faces[0]
    x, y, w, h = face.box
    assert 150 < x < 230 and 40 < y < 110 and 60 < w < 130  # the astronaut's face
    assert face.class_names == FER7 and face.probs.shape == (7,)
    assert np.isclose(face.probs.sum(), 1.0, atol=1e-4)
    assert face.label == FER7[int(np.argmax(face.probs))] and face.score == face.probs.max()
    assert face.landmarks.shape == (5, 2)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["faces"][0]["probs"][face.label] == float(face.score)  # full precision, not rounded


def test_path_pil_and_array_inputs_agree(detector):
    astronaut = load_sample("astronaut.jpg")
    by_path = detector(SAMPLES / "astronaut.jpg").faces[0].probs
    by_pil = detector(Image.open(SAMPLES / "astronaut.jpg")).faces[0].probs
    by_array = detector(astronaut).faces[0].probs
    assert np.allclose(by_path, by_pil, atol=1e-6) and np.allclose(by_path, by_array, atol=1e-6)


def test_no_face_is_an_empty_result(detector):
    result = detector(np.full((240, 320, 3), 128, np.uint8))
    assert result.faces == [] and result.to_dict()["faces"] == []


def test_batch_classifies_all_images_together(detector):
    images = [load_sample("astronaut.jpg"), load_sample("camera.png"), np.zeros((100, 100, 3), np.uint8)]
    batch = detector.detect_batch(images)
    assert [len(r.faces) for r in batch] == [1, 1, 0]
    for image, result in zip(images[:2], batch[:2]):
        assert np.allclose(detector(image).faces[0].probs, result.faces[0].probs, atol=1e-5)


def test_grayscale_and_rgba_arrays(detector):
    astronaut = load_sample("astronaut.jpg")
    gray = astronaut.mean(axis=-1).astype(np.uint8)
    rgba = np.dstack([astronaut, np.full(gray.shape, 255, np.uint8)])
    assert len(detector(gray).faces) == 1 and len(detector(rgba).faces) == 1


def test_draw_marks_the_face(detector):
    astronaut = load_sample("astronaut.jpg")
    result = detector(astronaut)
    drawn = result.draw(astronaut)
    assert drawn.shape == astronaut.shape and not np.array_equal(drawn, astronaut)
    x, y, w, h = (int(v) for v in result.faces[0].box)
    assert np.array_equal(drawn[y + h + 20:, :], astronaut[y + h + 20:, :])  # nothing drawn far below the box


def test_tracker_keeps_ids_and_smooths():
    tracker = FaceTracker(smoothing=0.5)
    a, b = [10, 10, 50, 50], [200, 10, 50, 50]
    ids, probs = tracker.update(np.array([a, b]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert ids == [1, 2]
    ids, probs = tracker.update(np.array([[205, 12, 50, 50], [12, 11, 50, 50]]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert ids == [2, 1]  # matched by overlap, not by order
    assert np.allclose(probs, [[0.5, 0.5], [0.5, 0.5]])
    ids, _ = tracker.update(np.array([[400, 300, 40, 40]]), np.array([[0.5, 0.5]]))
    assert ids == [3]
    assert np.isclose(iou_matrix(np.array([a]), np.array([[35, 10, 50, 50]]))[0, 0], 25 / 75)
