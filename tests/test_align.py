"""Face alignment: square, eye-levelled crops, checked geometrically and on the real sample photo."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from conftest import SAMPLES
from PIL import Image

from emodet.errors import ConfigError, MediaError
from emodet.inference.align import (
    DEFAULT_MARGIN,
    FER2013_TEMPLATE,
    align_face,
    align_faces,
    alignment_matrix,
    eye_angle,
    template_points,
)
from emodet.inference.detectors import DetectedFace, create_detector

#: The astronaut's face in astronaut.jpg: YuNet's box and the mean of YuNet's and mtcnn's landmarks
#: (pupils checked by eye): image-left eye, image-right eye, nose tip, mouth corners.
ASTRONAUT_BOX = (178.0, 63.0, 91.0, 114.0)
ASTRONAUT_POINTS = np.array([[201.5, 100.8], [246.6, 102.7], [222.6, 125.7], [200.0, 140.4], [242.2, 142.3]])

PAD = 100  # the rotated-face tests put the photo on a larger canvas so rotation loses nothing
ROLL = 20.0  # degrees; cv2 turns the canvas counter-clockwise on screen, so the face leans left


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / "astronaut.jpg").convert("RGB"))


@pytest.fixture(scope="module")
def upright(astronaut) -> np.ndarray:
    return cv2.copyMakeBorder(astronaut, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)


def roll_matrix() -> np.ndarray:
    """The 2x3 rotation by ROLL about the face centre of the padded photo."""
    x, y, w, h = ASTRONAUT_BOX
    return cv2.getRotationMatrix2D((x + w / 2 + PAD, y + h / 2 + PAD), ROLL, 1.0)


@pytest.fixture(scope="module")
def rolled(upright) -> np.ndarray:
    height, width = upright.shape[:2]
    return cv2.warpAffine(upright, roll_matrix(), (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float64).reshape(-1, 2)
    return points @ matrix[:, :2].T + matrix[:, 2]


def level_angle(points: np.ndarray) -> float:
    """Angle in degrees of the line from the first point to the second."""
    (x0, y0), (x1, y1) = points[:2]
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def upright_face() -> DetectedFace:
    x, y, w, h = ASTRONAUT_BOX
    return DetectedFace((x + PAD, y + PAD, w, h), 1.0, ASTRONAUT_POINTS + PAD)


def rolled_face() -> DetectedFace:
    """The upright face with its points carried through the known rotation (the box keeps its size)."""
    matrix = roll_matrix()
    x, y, w, h = upright_face().box
    cx, cy = transform(matrix, [x + w / 2, y + h / 2])[0]
    return DetectedFace((cx - w / 2, cy - h / 2, w, h), 1.0, transform(matrix, upright_face().landmarks))


# --- shape, dtype and exact crops -----------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 48, 64, 224])
@pytest.mark.parametrize("with_landmarks", [True, False])
def test_output_shape_and_dtype(astronaut, size, with_landmarks):
    face = DetectedFace(ASTRONAUT_BOX, 1.0, ASTRONAUT_POINTS if with_landmarks else None)
    crop = align_face(astronaut, face, size)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8


def test_without_landmarks_the_crop_is_the_square_around_the_box():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (200, 300, 3), np.uint8)
    face = DetectedFace((100, 50, 80, 80), 0.9, None)
    assert np.array_equal(align_face(image, face, 80, margin=0.0), image[50:130, 100:180])
    assert np.array_equal(align_face(image, face, 120, margin=0.25), image[30:150, 80:200])
    # A tall box gives a square on its longer side, centred on the box.
    tall = DetectedFace((110, 50, 60, 80), 0.9, None)
    assert np.array_equal(align_face(image, tall, 80, margin=0.0), image[50:130, 100:180])


def test_shrinking_averages_pixels_like_inter_area():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (200, 300, 3), np.uint8)
    face = DetectedFace((100, 50, 80, 80), 0.9, None)
    expected = cv2.resize(image[50:130, 100:180], (20, 20), interpolation=cv2.INTER_AREA)
    assert np.array_equal(align_face(image, face, 20, margin=0.0), expected)


def test_shrinking_does_not_alias():
    # 1-pixel checkerboard shrunk 10x: area averaging gives flat grey; point sampling would not.
    board = ((np.indices((600, 600)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.repeat(board[..., None], 3, axis=-1)
    face = DetectedFace((50, 50, 480, 480), 0.9, np.array([[150, 200], [400, 230], [275, 300], [180, 400], [370, 420]]))
    crop = align_face(image, face, 48, margin=0.0)
    assert abs(crop.mean() - 127.5) < 5 and crop.std() < 10


# --- rotation -------------------------------------------------------------------------------------

def test_alignment_matrix_levels_the_eyes_and_puts_the_face_on_the_fer2013_template():
    face = rolled_face()
    assert eye_angle(face) == pytest.approx(level_angle(ASTRONAUT_POINTS) - ROLL, abs=1e-3)
    matrix = alignment_matrix(face, 100, margin=0.0)
    eyes = transform(matrix, face.landmarks[:2])
    assert eyes[0, 1] == pytest.approx(eyes[1, 1], abs=1e-3)  # level
    assert eyes[0, 0] < eyes[1, 0]  # not flipped
    # Eyes, nose and mouth centre land near where FER2013 faces have them (a real face is not the
    # template, so within a few pixels of 100), and exactly on it on average (least squares).
    points = transform(matrix, template_points(face.landmarks))
    assert np.abs(points - 100 * FER2013_TEMPLATE).max() < 6
    assert points.mean(axis=0) == pytest.approx(100 * FER2013_TEMPLATE.mean(axis=0), abs=1e-6)


def test_box_alignment_levels_the_eyes_and_centres_the_box():
    face = rolled_face()
    matrix = alignment_matrix(face, 100, margin=0.0, alignment="box")
    eyes = transform(matrix, face.landmarks[:2])
    assert eyes[0, 1] == pytest.approx(eyes[1, 1], abs=1e-3) and eyes[0, 0] < eyes[1, 0]
    x, y, w, h = face.box
    assert transform(matrix, [x + w / 2, y + h / 2])[0] == pytest.approx([50, 50], abs=1e-6)
    # The crop keeps the face's scale: 100 px for the box's longer side at margin 0.
    assert np.linalg.norm(eyes[1] - eyes[0]) == pytest.approx(
        100 / h * np.linalg.norm(face.landmarks[1] - face.landmarks[0]), rel=1e-4)
    with pytest.raises(ConfigError, match="alignment must be one of template, box"):
        alignment_matrix(face, 100, alignment="similarity")


def test_margin_widens_the_template_crop_around_the_same_face():
    face = rolled_face()
    tight = transform(alignment_matrix(face, 100, margin=0.0), template_points(face.landmarks))
    loose = transform(alignment_matrix(face, 100, margin=0.25), template_points(face.landmarks))
    assert loose == pytest.approx(100 * ((tight / 100) + 0.25) / 1.5, abs=1e-6)


def test_landmarks_that_disagree_with_the_box_fall_back_to_the_box():
    # Landmarks squeezed into a few pixels of a 200 px box (a detector's failure): use the box.
    face = DetectedFace((100, 100, 200, 200), 0.9,
                        np.array([[199, 199], [201, 199], [200, 200], [199, 201], [201, 201]]))
    matrix = alignment_matrix(face, 100, margin=0.0)
    assert transform(matrix, [200, 200])[0] == pytest.approx([50, 50], abs=1e-6)
    assert transform(matrix, [100, 100])[0] == pytest.approx([0, 0], abs=1e-6)


def test_a_known_roll_is_undone(upright, rolled):
    """The crop of the rolled photo matches the crop of the upright photo; without landmarks it does not."""
    reference = align_face(upright, upright_face(), 96, margin=0.1).astype(np.float32)
    face = rolled_face()
    aligned = align_face(rolled, face, 96, margin=0.1).astype(np.float32)
    unaligned = align_face(rolled, DetectedFace(face.box, 1.0, None), 96, margin=0.1).astype(np.float32)
    aligned_error = np.abs(aligned - reference).mean()
    unaligned_error = np.abs(unaligned - reference).mean()
    assert aligned_error < 4, aligned_error
    assert unaligned_error > 3 * aligned_error, (aligned_error, unaligned_error)


def test_detected_rolled_face_comes_out_level(rolled):
    """End to end with the default detector: detect the rolled face, align it, and check where the true
    eyes (known from the rotation we applied) land in the crop.

    The truth comes from the known rotation rather than from running a detector on the crop: YuNet,
    the obvious judge, under-reports roll on this face (its eye line turns 3 degrees for a 20-degree roll).
    """
    faces = create_detector("mtcnn").detect(rolled)
    assert len(faces) == 1
    face = faces[0]
    assert abs(eye_angle(face)) > 10  # the detector sees the roll
    true_eyes = rolled_face().landmarks[:2]
    crop_eyes = transform(alignment_matrix(face, 192), true_eyes)
    assert abs(level_angle(crop_eyes)) < 3.0


def test_roll_beyond_90_degrees_is_undone_not_mirrored():
    """Landmarks keep the subject's own order, so an upside-down face is turned upright."""
    upside_down = DetectedFace((30, 30, 40, 40), 1.0, [[60, 55], [40, 55], [50, 50], [58, 42], [42, 42]])
    matrix = alignment_matrix(upside_down, 40, margin=0.0)
    eyes, mouth = transform(matrix, upside_down.landmarks[:2]), transform(matrix, upside_down.landmarks[3:])
    assert eyes[0, 0] < eyes[1, 0] and eyes[0, 1] == pytest.approx(eyes[1, 1])
    assert mouth[:, 1].min() > eyes[:, 1].max()  # mouth below the eyes again


# --- borders, batches, defaults, errors -------------------------------------------------------------

@pytest.mark.parametrize("box", [(-30, -30, 60, 60), (170, 70, 60, 60), (-500, 10, 40, 40)])
def test_faces_at_or_past_the_border_are_padded_by_replication(box):
    image = np.full((120, 200, 3), 60, np.uint8)
    image[:, 100:] = 200
    face = DetectedFace(box, 1.0, np.array(box[:2]) + [[15, 20], [45, 22], [30, 35], [18, 48], [42, 48]])
    crop = align_face(image, face, 64, margin=0.25)
    assert crop.shape == (64, 64, 3)
    assert crop.min() >= 60  # edge pixels repeated, never black fill


def test_align_faces_batches(astronaut):
    faces = [DetectedFace(ASTRONAUT_BOX, 1.0, ASTRONAUT_POINTS), DetectedFace((10, 10, 50, 60), 0.5, None)]
    batch = align_faces(astronaut, faces, 48)
    assert batch.shape == (2, 48, 48, 3) and batch.dtype == np.uint8
    assert np.array_equal(batch[1], align_face(astronaut, faces[1], 48))
    empty = align_faces(astronaut, [], 48)
    assert empty.shape == (0, 48, 48, 3) and empty.dtype == np.uint8


def test_default_margin_frames_the_face_like_fer2013():
    # FER2013 faces fill the frame: measured inter-eye distance is about 0.37-0.39 of the image side.
    face = DetectedFace(ASTRONAUT_BOX, 1.0, ASTRONAUT_POINTS)
    eyes = transform(alignment_matrix(face, 48), ASTRONAUT_POINTS[:2])
    assert 0.3 < np.linalg.norm(eyes[1] - eyes[0]) / 48 < 0.45
    assert DEFAULT_MARGIN == 0.0


@pytest.mark.parametrize(("size", "margin"), [(0, 0.1), (48.0, 0.1), (True, 0.1), (48, -0.1), (48, 3.0)])
def test_bad_size_or_margin_is_a_config_error(astronaut, size, margin):
    with pytest.raises(ConfigError):
        align_face(astronaut, DetectedFace(ASTRONAUT_BOX, 1.0, None), size, margin)


@pytest.mark.parametrize("frame", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 3), np.float32), None])
def test_bad_frame_is_a_media_error(frame):
    with pytest.raises(MediaError, match="RGB uint8"):
        align_face(frame, DetectedFace((0, 0, 10, 10), 1.0, None), 48)
