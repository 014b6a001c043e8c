"""Face detectors and their model-file cache, run for real on the bundled sample photos.

YuNet and BlazeFace need model files that are normally downloaded into the cache on first use.
These tests never download: a session fixture points ``EMODET_CACHE`` at a temporary directory and
copies the files there from the project's shared folder (``../shared/face`` beside the repository,
or ``$EMODET_SHARED/face``), so the real :func:`~emodet.inference.model_files.fetch` code finds them
through its normal cache-hit path. Without those files the tests that need them are skipped (and
fail when ``CI`` is set, so CI cannot pass by skipping).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_sample, shared_path

from emodet.errors import ConfigError, MediaError, ModelError
from emodet.inference import model_files
from emodet.inference.detectors import (
    DEFAULT_DETECTOR,
    DetectedFace,
    FaceDetector,
    create_detector,
    list_detectors,
)

#: The astronaut's face in astronaut.jpg, (x, y, w, h), as YuNet boxes it (measured: 178.1, 62.6, 90.5, 113.6).
ASTRONAUT_FACE = (178.0, 63.0, 91.0, 114.0)
#: The camera-man's face in camera.png, as YuNet boxes it (measured: 195.6, 113.1, 60.7, 81.1).
CAMERA_FACE = (196.0, 113.0, 61.0, 81.0)


# --- fixtures and helpers -------------------------------------------------------------------------

@pytest.fixture(scope="module", params=list_detectors())
def detector(request):
    """Each registered detector with its default options, built once per module."""
    if request.param != "mtcnn":  # mtcnn ships its weights; the others need the seeded cache
        request.getfixturevalue("model_cache")
    return create_detector(request.param)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_sample("astronaut.jpg")


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def check_contract(faces, image: np.ndarray) -> None:
    """What every detect() result must satisfy, whatever the detector and image."""
    height, width = image.shape[:2]
    assert isinstance(faces, list)
    scores = [face.score for face in faces]
    assert scores == sorted(scores, reverse=True)
    for face in faces:
        assert isinstance(face, DetectedFace)
        x, y, w, h = face.box
        assert all(isinstance(v, float) for v in face.box)
        assert 0 <= x and 0 <= y and w > 0 and h > 0
        assert x + w <= width + 1e-3 and y + h <= height + 1e-3
        assert 0.0 <= face.score <= 1.0
        assert face.landmarks is not None
        assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32


# --- registry ---------------------------------------------------------------------------------------

def test_registry_lists_the_default_first():
    assert DEFAULT_DETECTOR == "yunet"
    assert list_detectors()[0] == DEFAULT_DETECTOR
    assert sorted(list_detectors()) == ["blazeface", "mtcnn", "yunet"]


def test_unknown_detector_suggests_the_closest_name():
    with pytest.raises(ConfigError, match=r"unknown face detector 'yunett'.*Did you mean 'yunet'"):
        create_detector("yunett")


def test_unknown_option_names_the_valid_ones(model_cache):
    with pytest.raises(ConfigError, match=r"no option 'score_treshold'.*Did you mean 'score_threshold'"):
        create_detector("yunet", score_treshold=0.5)


@pytest.mark.parametrize(("name", "options", "message"), [
    ("yunet", {"score_threshold": 1.5}, "score_threshold must be a number from 0 to 1"),
    ("blazeface", {"num_threads": 0}, "num_threads must be an integer >= 1"),
    ("mtcnn", {"scale_factor": 0.8}, "scale_factor must be a number from 0.3 to 0.709"),
    ("mtcnn", {"min_face_size": 10}, "min_face_size must be an integer >= 20"),
    ("yunet", {"max_side": 16}, "max_side must be an integer >= 32"),
])
def test_bad_option_values_are_config_errors(model_cache, name, options, message):
    with pytest.raises(ConfigError, match=message):
        create_detector(name, **options)


def test_names_are_case_insensitive(model_cache):
    assert create_detector(" YuNet ").name == "yunet"


# --- detection on real photos ---------------------------------------------------------------------

def test_finds_the_astronaut(detector, astronaut):
    faces = detector.detect(astronaut)
    check_contract(faces, astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert iou(face.box, ASTRONAUT_FACE) > 0.5, face.box
    assert face.score >= detector.score_threshold
    x, y, w, h = face.box
    points = face.landmarks
    assert np.all((points[:, 0] >= x) & (points[:, 0] <= x + w) & (points[:, 1] >= y) & (points[:, 1] <= y + h))
    left_eye, right_eye, nose, mouth_left, mouth_right = points
    assert left_eye[0] < right_eye[0]  # image-left eye first
    assert left_eye[0] < nose[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])  # eyes, nose, mouth
    assert mouth_left[0] <= mouth_right[0]


def test_grayscale_photo_converted_to_rgb(detector):
    camera = load_sample("camera.png")  # stored as a one-channel PNG; converted on load
    assert np.array_equal(camera[..., 0], camera[..., 2])
    faces = detector.detect(camera)
    check_contract(faces, camera)
    assert len(faces) == 1
    assert iou(faces[0].box, CAMERA_FACE) > 0.4, faces[0].box  # half-profile: boxes disagree more


def test_blank_frame_has_no_faces(detector):
    for value in (0, 128, 255):
        assert detector.detect(np.full((480, 640, 3), value, np.uint8)) == []


def test_two_faces_side_by_side(detector, astronaut):
    head = astronaut[30:290, 130:330]  # the face with some hair and background around it
    frame = np.zeros((260, 440, 3), np.uint8)
    frame[:, :200] = head
    frame[:, 240:] = head
    faces = detector.detect(frame)
    check_contract(faces, frame)
    assert len(faces) == 2
    centres = sorted(face.box[0] + face.box[2] / 2 for face in faces)
    assert centres[0] < 200 < 240 < centres[1]
    # Same face, same place in each half: the boxes match after shifting by 240 px.
    left, right = sorted((face.box for face in faces), key=lambda box: box[0])
    assert iou((left[0] + 240, *left[1:]), right) > 0.7


def test_large_frame_boxes_map_back_to_input_pixels(detector, astronaut):
    big = cv2.resize(astronaut, (1280, 1280), interpolation=cv2.INTER_LINEAR)  # above max_side / letterboxed
    faces = detector.detect(big)
    check_contract(faces, big)
    assert len(faces) == 1
    assert iou(faces[0].box, tuple(v * 2.5 for v in ASTRONAUT_FACE)) > 0.5, faces[0].box


def test_face_cut_by_the_frame_edge_is_clipped(detector, astronaut):
    frame = np.ascontiguousarray(astronaut[80:, 190:])  # face partly outside, top-left
    faces = detector.detect(frame)
    check_contract(faces, frame)  # boxes inside the frame even though the face is not
    assert len(faces) == 1
    assert faces[0].box[0] < 3 and faces[0].box[1] < 3  # the box reaches the cut corner


class FixedDetector(FaceDetector):
    """Returns preset raw faces, to test what the base class does with them."""

    name = "fixed"

    def __init__(self, faces):
        self.faces = faces

    def _detect(self, rgb):
        return self.faces


def test_base_class_clips_drops_and_sorts():
    raw = [
        DetectedFace((-10, -5, 30, 20), 0.5, None),      # partly outside: clipped
        DetectedFace((90, 40, 50, 50), 0.9, None),       # overhangs right and bottom: clipped
        DetectedFace((200, 10, 10, 10), 0.99, None),     # wholly outside: dropped
        DetectedFace((5, 5, 10, 10), 1.2, None),         # score above 1: clamped
    ]
    faces = FixedDetector(raw).detect(np.zeros((60, 100, 3), np.uint8))
    assert [face.box for face in faces] == [(5.0, 5.0, 10.0, 10.0), (90.0, 40.0, 10.0, 20.0), (0.0, 0.0, 20.0, 15.0)]
    assert [face.score for face in faces] == [1.0, 0.9, 0.5]


@pytest.mark.parametrize("side", [1, 5, 20, 30])
def test_tiny_frames_do_not_crash(detector, side):
    assert detector.detect(np.full((side, side, 3), 90, np.uint8)) == []


def test_non_contiguous_view_is_accepted(detector, astronaut):
    view = astronaut[:, ::-1]  # mirrored view, negative strides
    faces = detector.detect(view)
    assert len(faces) == 1
    mirrored = (512 - ASTRONAUT_FACE[0] - ASTRONAUT_FACE[2], *ASTRONAUT_FACE[1:])
    assert iou(faces[0].box, mirrored) > 0.5


def test_frame_size_changes_between_calls(detector, astronaut):
    """YuNet must re-set its input size; every detector must give the same answer again."""
    first = detector.detect(astronaut)
    detector.detect(cv2.resize(astronaut, (300, 200)))
    again = detector.detect(astronaut)
    assert len(first) == len(again) == 1
    assert np.allclose(first[0].box, again[0].box, atol=1e-3)


@pytest.mark.parametrize("bad", [
    np.zeros((64, 64), np.uint8),
    np.zeros((64, 64, 4), np.uint8),
    np.zeros((64, 64, 3), np.float32),
    [[0, 0, 0]],
])
def test_wrong_input_is_a_media_error(detector, bad):
    with pytest.raises(MediaError, match="RGB uint8"):
        detector.detect(bad)


# --- detector-specific behaviour ------------------------------------------------------------------

def test_mtcnn_min_face_size_downscales_instead_of_hitting_the_pyramid_bug(astronaut):
    # mtcnn 1.0's own min_face_size=60 returns [] silently; ours downscales and still finds the face.
    faces = create_detector("mtcnn", min_face_size=60).detect(astronaut)
    assert len(faces) == 1 and iou(faces[0].box, ASTRONAUT_FACE) > 0.5
    assert create_detector("mtcnn", min_face_size=250).detect(astronaut) == []  # face is ~110 px


def test_yunet_threshold_is_honoured(model_cache):
    camera = load_sample("camera.png")  # YuNet scores this face about 0.89
    assert len(create_detector("yunet", score_threshold=0.6).detect(camera)) == 1
    assert create_detector("yunet", score_threshold=0.95).detect(camera) == []


def test_blazeface_mouth_corners_are_the_mouth_centre(model_cache, astronaut):
    (face,) = create_detector("blazeface").detect(astronaut)
    assert np.array_equal(face.landmarks[3], face.landmarks[4])


def test_yunet_and_blazeface_do_not_import_tensorflow(model_cache):
    code = ("import sys, numpy as np\n"
            "from emodet.inference.detectors import create_detector\n"
            "for name in ('yunet', 'blazeface'):\n"
            "    create_detector(name).detect(np.zeros((64, 64, 3), np.uint8))\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'tensorflow imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "EMODET_CACHE": str(model_cache)})
    assert result.returncode == 0, result.stderr[-2000:]


def test_detected_face_is_immutable():
    face = DetectedFace((1, 2, 3, 4), np.float64(0.5), [[0, 0]] * 5)
    assert face.box == (1.0, 2.0, 3.0, 4.0) and type(face.score) is float
    with pytest.raises(ValueError):
        face.landmarks[0, 0] = 1.0
    with pytest.raises(AttributeError):
        face.score = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="5 \\(x, y\\) points"):
        DetectedFace((0, 0, 1, 1), 1.0, np.zeros((6, 2)))


# --- the model-file cache -------------------------------------------------------------------------

@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("EMODET_CACHE", str(cache))
    return cache


def closed_port_url() -> str:
    """An http URL on localhost where nothing listens: the connection is refused at once, like offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/face_detection_yunet_2026may.onnx"


def no_network(*args, **kwargs):
    raise AssertionError("fetch() tried to download although the cached file is valid")


def test_cache_dir_prefers_emodet_cache_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("EMODET_CACHE", str(tmp_path / "explicit"))
    assert model_files.cache_dir() == tmp_path / "explicit"
    monkeypatch.setenv("EMODET_CACHE", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_files.cache_dir() == tmp_path / "xdg" / "emodet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_files.cache_dir() == tmp_path / "home" / ".cache" / "emodet"
    assert not (tmp_path / "home").exists()  # asking for the path creates nothing


def test_cache_hit_does_not_download(model_cache, monkeypatch):
    monkeypatch.setattr(model_files.urllib.request, "urlopen", no_network)
    path = model_files.fetch("yunet")
    assert path == model_cache / "face_detection_yunet_2026may.onnx"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == model_files.MODEL_FILES["yunet"].sha256


def test_download_verifies_and_moves_into_place(empty_cache, monkeypatch):
    source = shared_path("face", "face_detection_short_range.tflite")
    if not source.is_file():
        pytest.skip(f"{source} missing")
    spec = model_files.MODEL_FILES["blazeface_short_range"]
    monkeypatch.setitem(model_files.MODEL_FILES, "blazeface_short_range", spec._replace(url=source.as_uri()))
    path = model_files.fetch("blazeface_short_range")
    assert path == empty_cache / spec.filename
    assert path.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in empty_cache.iterdir()) == [spec.filename]  # no temporary file left


def test_corrupt_cached_file_is_downloaded_again_and_offline_fails_clearly(empty_cache, monkeypatch):
    spec = model_files.MODEL_FILES["yunet"]
    empty_cache.mkdir()
    (empty_cache / spec.filename).write_bytes(b"truncated")
    url = closed_port_url()
    monkeypatch.setitem(model_files.MODEL_FILES, "yunet", spec._replace(url=url))
    with pytest.raises(ModelError) as info:
        model_files.fetch("yunet", timeout=5)
    message = str(info.value)
    for expected in (spec.filename, url, str(empty_cache / spec.filename), spec.sha256, "EMODET_CACHE",
                     "reinstall emodet"):
        assert expected in message
    assert "cached copy has the wrong SHA-256" in message and "download failed" in message
    assert sorted(p.name for p in empty_cache.iterdir()) == [spec.filename]  # no temporary file left


def test_download_with_wrong_checksum_is_rejected(empty_cache, monkeypatch):
    wrong = shared_path("face", "face_detection_short_range.tflite")
    if not wrong.is_file():
        pytest.skip(f"{wrong} missing")
    spec = model_files.MODEL_FILES["yunet"]
    monkeypatch.setitem(model_files.MODEL_FILES, "yunet", spec._replace(url=wrong.as_uri()))
    with pytest.raises(ModelError, match=r"SHA-256 [0-9a-f]{64}, expected " + spec.sha256):
        model_files.fetch("yunet")
    assert list(empty_cache.iterdir()) == []  # nothing unverified enters the cache


def test_detector_construction_reports_a_missing_model(empty_cache, monkeypatch):
    spec = model_files.MODEL_FILES["blazeface_short_range"]
    monkeypatch.setitem(model_files.MODEL_FILES, "blazeface_short_range", spec._replace(url=closed_port_url()))
    with pytest.raises(ModelError, match="face_detection_short_range.tflite"):
        create_detector("blazeface")


def test_unknown_model_file_name():
    with pytest.raises(ConfigError, match="Did you mean 'yunet'"):
        model_files.fetch("yunett")


def test_yunet_ships_inside_the_package_and_needs_no_cache(empty_cache, monkeypatch):
    monkeypatch.setattr(model_files.urllib.request, "urlopen", no_network)
    path = model_files.packaged_path("yunet")
    assert path is not None and "assets" in path.parts
    assert hashlib.sha256(path.read_bytes()).hexdigest() == model_files.MODEL_FILES["yunet"].sha256
    assert len(create_detector("yunet").detect(load_sample("astronaut.jpg"))) == 1
    assert not empty_cache.exists() or not list(empty_cache.iterdir())  # nothing was downloaded or cached
    assert model_files.packaged_path("blazeface_short_range") is None  # not shipped: downloaded on first use
