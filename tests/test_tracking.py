"""Face tracks across frames: fast motion, a stride, faces hidden for a while (benchmarks/tracking.py
measures the same against ByteTrack and SORT)."""

import numpy as np
from face_scenes import Actor, linear_path, write_scene
from test_detection_report import fer_faces

from emodet import EmotionDetector
from emodet.inference.tracking import FaceTracker


def test_a_face_moving_faster_than_its_width_between_analysed_frames_keeps_its_id(fer_splits, model_cache,
                                                                                   tmp_path):
    """30 pixels a frame, read at stride 2: 60 pixels between analysed frames, half the face's width,
    where box overlap alone loses it on every frame."""
    faces, _ = fer_faces(fer_splits)
    video = tmp_path / "fast.mp4"
    truth = write_scene(video, [Actor([(0, faces[0][..., 0])], linear_path((60, 100), (580, 380), 0, 19), side=120)],
                        20)
    results = list(EmotionDetector(detector="yunet").stream(str(video), stride=2))
    ids = [face.track_id for result in results for face in result.faces]
    assert len(ids) >= 0.8 * len(truth[::2])  # found on (nearly) every analysed frame
    assert set(ids) == {1}


def test_a_hidden_face_is_found_again_where_its_motion_leads():
    """A face hidden behind another for 20 frames comes back further along its path, with its own id."""
    tracker = FaceTracker(smoothing=0.0)
    probs = np.zeros((2, 1), np.float32)
    for frame in range(10):  # A walks right 5 px a frame, B stands
        ids, _ = tracker.update(np.array([[100 + 5 * frame, 100, 80, 80], [400, 100, 80, 80]]), probs)
    assert ids == [1, 2]
    for _ in range(20):  # A hidden
        ids, _ = tracker.update(np.array([[400, 100, 80, 80]]), probs[:1])
    assert ids == [2]
    ids, _ = tracker.update(np.array([[250, 100, 80, 80], [400, 100, 80, 80]]), probs)  # 21 frames on: 105 px
    assert ids == [1, 2]


def test_a_new_face_far_from_every_track_gets_a_new_id():
    tracker = FaceTracker(smoothing=0.0)
    probs = np.zeros((1, 1), np.float32)
    assert tracker.update(np.array([[100, 100, 80, 80]]), probs)[0] == [1]
    assert tracker.update(np.array([[500, 300, 80, 80]]), probs)[0] == [2]  # not a jump of the first face
    assert tracker.update(np.array([[90, 300, 30, 30]]), probs)[0] == [3]  # near, but a much smaller face


def _frames_with_face(side: int, count: int = 30):
    """640x480 frames with the astronaut's face, ``side`` pixels tall, drifting right."""
    import cv2
    from conftest import load_sample

    face = cv2.resize(load_sample("astronaut.jpg")[30:250, 140:310], (round(side * 170 / 220), side))
    frames = []
    for i in range(count):
        frame = np.full((480, 640, 3), 110, np.uint8)
        frame[100:100 + face.shape[0], 150 + 2 * i:150 + 2 * i + face.shape[1]] = face
        frames.append(frame)
    return frames


def test_large_followed_faces_are_searched_at_the_tracked_side(model_cache):
    """Frames of a video whose face is large are searched at 320 px, a full-size search every tenth
    frame; the faces found are where the full-size search finds them."""
    from emodet.inference.settings import InferenceSettings
    from emodet.inference.tracking import FULL_SEARCH_EVERY, iou_matrix

    fast, full = EmotionDetector(detector="yunet"), EmotionDetector(settings=InferenceSettings(tracked_side=None))
    tracker, sides, overlaps = fast.new_tracker(), [], []
    for frame in _frames_with_face(260):
        (face,) = fast.analyse(frame, tracker=tracker).faces
        (reference,) = full.analyse(frame).faces
        sides.append(tracker.last_search_side)
        overlaps.append(iou_matrix(np.array([face.box]), np.array([reference.box]))[0, 0])
    assert sides.count(640) == len(sides) // FULL_SEARCH_EVERY and sides.count(320) == len(sides) - sides.count(640)
    assert min(overlaps) > 0.8


def test_small_faces_are_always_searched_at_full_size(model_cache):
    detector = EmotionDetector(detector="yunet")
    tracker, sides = detector.new_tracker(), []
    for frame in _frames_with_face(70, count=12):
        assert len(detector.analyse(frame, tracker=tracker).faces) == 1
        sides.append(tracker.last_search_side)
    assert set(sides) == {640}  # a 70-px face would be 35 px at 320: too small to search for there
