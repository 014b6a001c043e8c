"""Video files, strides, tracking across frames, and videos or cameras that cannot be read."""

import functools
import http.server
import socketserver
import threading

import cv2
import numpy as np
import pytest
from conftest import load_sample

from emodet import EmotionDetector
from emodet.errors import MediaError

FPS = 10.0


def make_video(path, frames=12, faces=1, size=(640, 480)):
    """A real MP4 whose frames show the astronaut's face (and a second face) drifting right."""
    face = cv2.resize(load_sample("astronaut.jpg")[40:240, 150:300], (120, 160))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size)
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 90, np.uint8)
        frame[100:260, 40 + 4 * i:160 + 4 * i] = face
        if faces == 2:
            frame[200:360, 420 - 3 * i:540 - 3 * i] = face[:, ::-1]
        writer.write(frame[..., ::-1].copy())
    writer.release()
    return path


@pytest.fixture(scope="module")
def detector(model_cache):
    return EmotionDetector(detector="yunet")


def test_every_frame_with_timestamps_and_a_stable_track(detector, tmp_path):
    stream = detector.stream(make_video(tmp_path / "one.mp4"))
    results = list(stream)
    assert stream.ended == "end" and len(results) == 12
    assert [r.frame_index for r in results] == list(range(12))
    assert np.allclose([r.timestamp for r in results], np.arange(12) / FPS)
    assert all(len(r.faces) == 1 for r in results)
    assert {r.faces[0].track_id for r in results} == {1}


def test_stride_skips_frames(detector, tmp_path):
    results = list(detector.stream(make_video(tmp_path / "one.mp4"), stride=3))
    assert [r.frame_index for r in results] == [0, 3, 6, 9]


def test_frame_ranges_cover_the_video_once_and_read_the_same_frames(tmp_path):
    from emodet.inference.video import FrameReader, frame_ranges

    path = make_video(tmp_path / "long.mp4", frames=40)
    ranges = frame_ranges(str(path), 8, stride=3)
    assert ranges == [(0, 9), (9, 18), (18, 27), (27, 36), (36, None)]  # each starts on a strided frame
    full = {frame.index: frame.rgb for frame in FrameReader(str(path), stride=3)}
    parts = [FrameReader(str(path), stride=3, start=start, stop=stop) for start, stop in ranges]
    frames = [frame for reader in parts for frame in reader]
    assert [f.index for f in frames] == sorted(full) == list(range(0, 40, 3))
    assert all(np.array_equal(f.rgb, full[f.index]) for f in frames)  # the seek lands on the frame itself
    assert {reader.ended for reader in parts} == {"end"}
    past = FrameReader(str(path), start=60, stop=70)  # a range past the end of a short frame count
    assert list(past) == [] and past.ended == "end"
    assert frame_ranges(str(tmp_path / "missing.mp4"), 8) == [(0, None)]  # its error comes from reading it


def test_two_faces_keep_two_ids(detector, tmp_path):
    results = list(detector.stream(make_video(tmp_path / "two.mp4", faces=2)))
    ids = [sorted(face.track_id for face in r.faces) for r in results]
    assert all(i == [1, 2] for i in ids)
    left = [next(f for f in r.faces if f.track_id == results[0].faces[0].track_id).box[0] for r in results]
    assert len(set(np.sign(np.diff(left)))) == 1  # each id follows one face in one direction


def test_smoothing_averages_over_time(model_cache, tmp_path):
    path = make_video(tmp_path / "one.mp4", frames=6)
    raw = [r.faces[0].probs for r in EmotionDetector(detector="yunet", smoothing=0.0).stream(path)]
    smooth = [r.faces[0].probs for r in EmotionDetector(detector="yunet", smoothing=0.6).stream(path)]
    assert np.allclose(raw[0], smooth[0], atol=1e-6)  # a new track starts at its first frame's value
    expected = raw[0]
    for frame_probs, got in zip(raw[1:], smooth[1:]):
        expected = 0.6 * expected + 0.4 * frame_probs
        assert np.allclose(got, expected, atol=1e-5)


def test_unreadable_video_and_missing_camera(detector, tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(MediaError, match="cannot open video .*fake.mp4"):
        list(detector.stream(fake))
    with pytest.raises(MediaError, match="does not exist"):
        list(detector.stream(tmp_path / "missing.mp4"))
    with pytest.raises(MediaError, match="cannot open webcam 57"):
        list(detector.stream(57))


def test_truncated_video_keeps_the_frames_before_the_damage(detector, tmp_path):
    path = make_video(tmp_path / "long.avi", frames=30)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    stream = detector.stream(path)
    results = list(stream)
    assert 0 < len(results) < 30
    assert stream.ended != "end" and "long.avi" in stream.ended


@pytest.fixture
def http_server(tmp_path):
    """A real HTTP server on localhost serving ``tmp_path``; yields its base URL."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = socketserver.TCPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_stream_over_http(detector, tmp_path, http_server):
    make_video(tmp_path / "live.mp4", frames=8)
    stream = detector.stream(f"{http_server}/live.mp4")
    results = list(stream)
    assert stream.ended == "end" and len(results) == 8
    assert all(len(r.faces) == 1 for r in results)


def test_stream_that_drops_is_reported_and_closed(detector, tmp_path, http_server):
    path = make_video(tmp_path / "drop.avi", frames=30)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    stream = detector.stream(f"{http_server}/drop.avi")
    results = list(stream)
    assert 0 < len(results) < 30
    assert "stopped sending frames" in stream.ended
    with pytest.raises(MediaError, match="cannot open stream"):
        list(detector.stream(f"{http_server}/missing.mp4"))
