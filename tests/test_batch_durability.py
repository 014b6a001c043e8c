"""Batch runs never lose or duplicate work, and bad inputs get clear messages (real files, real runs)."""

import csv
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

import cv2
import numpy as np
import pytest
from conftest import SAMPLES, read_records
from PIL import Image

from emodet.cli import main
from emodet.errors import MediaError, ModelError
from emodet.imageio import read_image
from emodet.inference.results import FaceResult, FrameResult
from emodet.inference.sinks import CsvSink, Journal, Record, read_jsonl
from emodet.inference.sources import expand_sources

# --- listing inputs -------------------------------------------------------------------------------

@pytest.fixture
def looped(tmp_path):
    root = tmp_path / "looped"
    (root / "a").mkdir(parents=True)
    shutil.copy(SAMPLES / "astronaut.jpg", root / "a" / "face.jpg")
    os.symlink("..", root / "a" / "up")  # a loop
    os.symlink("../a", root / "a" / "again")  # a second loop
    os.symlink("face.jpg", root / "a" / "alias.jpg")  # the same file under a second name
    os.symlink("self.jpg", root / "self.jpg")  # a link to itself
    return root


@pytest.mark.parametrize("pattern", ["{root}", "{root}/**", "{root}/**/*.jpg", "{root}/*/*.jpg"])
def test_symlink_loops_never_repeat_or_hang(looped, pattern):
    started = time.monotonic()
    inputs = expand_sources([pattern.format(root=looped)])
    assert time.monotonic() - started < 5
    assert [i.name for i in inputs if not i.error] == [str(looped / "a" / "alias.jpg")] or \
        [i.name for i in inputs if not i.error] == [str(looped / "a" / "face.jpg")]


def test_a_link_to_itself_is_called_a_broken_link(looped):
    (item,) = expand_sources([str(looped / "self.jpg")])
    assert "broken symbolic link" in item.error


# --- the journal ----------------------------------------------------------------------------------

def test_resume_drops_a_cut_last_line_and_unfinished_videos(tmp_path):
    path = tmp_path / "out.jsonl"
    lines = [{"source": "a.jpg", "faces": []}, {"source": "v.mp4", "frame": 0, "faces": []},
             {"source": "bad.jpg", "error": "damaged"}, {"source": "w.mp4", "frame": 0, "faces": []},
             {"source": "w.mp4", "completed": True, "frames": 1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"source": "c.jpg", "fa')
    journal = Journal(path, resume=True)
    assert journal.done == {"a.jpg", "bad.jpg", "w.mp4"}  # v.mp4 was cut short, c.jpg half-written
    journal.write(Record("c.jpg", error="x"))
    journal.close()
    records = read_jsonl(path)
    assert [r["source"] for r in records] == ["a.jpg", "bad.jpg", "w.mp4", "w.mp4", "c.jpg"]
    assert path.read_text().endswith("\n")
    # N resumes give the file one gives; retrying failures replaces their error records.
    for _ in range(3):
        Journal(path, resume=True).close()
    assert read_jsonl(path) == records
    retry = Journal(path, resume=True, retry_failed=True)
    retry.close()
    assert retry.retried == {"bad.jpg", "c.jpg"} and "bad.jpg" not in retry.done
    assert [r["source"] for r in read_jsonl(path)] == ["a.jpg", "w.mp4", "w.mp4"]



def test_csv_killed_between_journal_and_row_is_rebuilt_from_the_journal(tmp_path):
    """A kill after an input's journal line but before its CSV row (what once failed CI) loses no row."""
    classes = ("happy", "sad")
    face = FaceResult((1.0, 2.0, 30.0, 40.0), 0.9, classes, np.array([0.75, 0.25]))
    records = [Record("a.jpg", result=FrameResult([face], (64, 64))), Record("bad.jpg", error="damaged"),
               Record("v.mp4", result=FrameResult([face], (64, 64), frame_index=0)), Record("v.mp4", completed=1)]
    journal_file, csv_file = tmp_path / "out.jsonl", tmp_path / "out.csv"
    journal = Journal(journal_file)
    sink = CsvSink(csv_file, classes, journal)
    for record in records[:2]:
        journal.write(record)
        sink.write(record)
    for record in records[2:]:
        journal.write(record)  # killed here: the journal has v.mp4, the CSV does not
    journal.close()
    sink.close()
    for _ in range(2):  # resuming twice changes nothing
        journal = Journal(journal_file, resume=True)
        CsvSink(csv_file, classes, journal, resume=True).close()
        journal.close()
    rows = list(csv.DictReader(csv_file.open()))
    assert [row["source"] for row in rows] == ["a.jpg", "bad.jpg", "v.mp4"]
    assert rows[0]["p_happy"] == "0.75" and rows[0]["width"] == "30.0" and rows[1]["error"] == "damaged"
    assert rows[2]["frame"] == "0" and rows[0]["frame"] == ""

# --- whole runs, interrupted ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    """The bundled model exported to ONNX: with YuNet, `emodet detect` then starts without TensorFlow."""
    import emodet
    from emodet.bundled import load_bundled_model

    return emodet.export(load_bundled_model(), tmp_path_factory.mktemp("onnx") / "model.onnx")


@pytest.fixture(scope="module")
def batch_folder(tmp_path_factory, fer_splits):
    """240 real FER2013 faces pasted into 200x200 frames, 12 of them (5%) broken in three ways."""
    folder = tmp_path_factory.mktemp("batch")
    rng = np.random.default_rng(0)
    faces = fer_splits["test"].images[:240, ..., 0]
    broken = set(rng.choice(240, size=12, replace=False).tolist())
    for i, face in enumerate(faces):
        path = folder / f"img{i:03d}.png"
        frame = np.full((200, 200), 120, np.uint8)
        frame[40:160, 40:160] = cv2.resize(face, (120, 120), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(path), frame)
        if i in broken:
            data = path.read_bytes()
            path.write_bytes([b"", data[: len(data) // 2], b"not an image"][i % 3])
    return folder, {f"img{i:03d}.png" for i in broken}


def _run(args, model_cache, kill_after=None, how=signal.SIGTERM):
    """`emodet detect` in a child process; optionally sent ``how`` once ``kill_after`` records exist."""
    command = [sys.executable, "-m", "emodet.cli", "detect", *map(str, args)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "EMODET_CACHE": str(model_cache)})
    if kill_after is not None:
        journal = args[args.index("--jsonl") + 1]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if journal.is_file() and journal.read_text().count("\n") >= kill_after:
                child.send_signal(how)
                break
            time.sleep(0.02)
    out, err = child.communicate(timeout=300)
    return child.returncode, out, err


def _check_outputs(tmp_path, folder, broken):
    names = {f"img{i:03d}.png" for i in range(240)}
    records = read_records(tmp_path / "out.jsonl")
    assert sorted(r["source"].split("/")[-1] for r in records) == sorted(names)  # each exactly once, whole lines
    assert {r["source"].split("/")[-1] for r in records if "error" in r} == broken
    array = json.loads((tmp_path / "out.json").read_text())
    assert sorted(r["source"].split("/")[-1] for r in array) == sorted(names)
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    per_input = {}
    for row in rows:
        per_input.setdefault(row["source"].split("/")[-1], []).append(row)
    assert set(per_input) == names
    assert all(len(v) == 1 for v in per_input.values())  # one face (or one error / no-face row) per image


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_killed_runs_resume_to_exactly_one_record_per_input(batch_folder, onnx_model, model_cache, tmp_path, how):
    folder, broken = batch_folder
    outputs = ["--jsonl", tmp_path / "out.jsonl", "--json", tmp_path / "out.json", "--csv", tmp_path / "out.csv"]
    args = [folder, "--model", onnx_model, "--detector", "yunet", "--quiet", *outputs]
    rng = np.random.default_rng(int(how))
    for trial, kill_after in enumerate(sorted(rng.integers(10, 230, size=2))):
        code, out, err = _run(args + (["--resume"] if trial else []), model_cache, kill_after, how)
        assert code == (128 + how if how == signal.SIGTERM else -how), err[-2000:]  # Popen: -N = killed by N
        if how == signal.SIGTERM:
            assert "failed" in out and "interrupted by SIGTERM" in err and "Traceback" not in err
    code, out, err = _run(args + ["--resume"], model_cache)
    assert code == 1, err[-2000:]  # finished; some inputs are broken
    _check_outputs(tmp_path, folder, broken)
    # Another resume changes nothing, and --retry-failed replaces the error records (still broken).
    before = (tmp_path / "out.jsonl").read_text()
    code, out, _ = _run(args + ["--resume"], model_cache)
    assert code == 1 and "12 input(s) failed in an earlier part" in out  # still says some inputs failed
    assert (tmp_path / "out.jsonl").read_text() == before
    assert _run(args + ["--resume", "--retry-failed"], model_cache)[0] == 1
    _check_outputs(tmp_path, folder, broken)


# --- messages for bad inputs ----------------------------------------------------------------------

def test_a_truncated_keras_file_is_not_called_missing(tmp_path):
    from emodet.bundled import bundled_model_path
    from emodet.models.classifier import load_model

    model = tmp_path / "cut.keras"
    model.write_bytes(bundled_model_path().read_bytes()[:5000])
    with pytest.raises(ModelError, match="is not a valid Keras file"):
        load_model(model)
    os.symlink(tmp_path / "gone.keras", tmp_path / "link.keras")
    with pytest.raises(ModelError, match="broken symbolic link"):
        load_model(tmp_path / "link.keras")


def _png_declaring(path, width, height):
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb's shape)."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data[12:29]
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [10_000, 20_000])  # below and above Pillow's own bomb limit
def test_a_decompression_bomb_is_called_one(tmp_path, side):
    with pytest.raises(MediaError, match="decompression bombs") as info:
        read_image(_png_declaring(tmp_path / "bomb.png", side, side))
    assert "damaged" not in str(info.value)


def test_permission_denied_is_called_that(tmp_path, monkeypatch):
    # Tests run as root in CI, where chmod cannot make a file unreadable: the OS refusal is simulated.
    path = tmp_path / "locked.png"
    shutil.copy(SAMPLES / "camera.png", path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", refuse)
    with pytest.raises(MediaError, match="permission denied"):
        read_image(path)


def test_animated_gif_and_empty_video_are_reported(model_cache, tmp_path, capsys):
    frame = Image.open(SAMPLES / "astronaut.jpg").convert("RGB")
    gif = tmp_path / "moving.gif"
    frame.save(gif, save_all=True, append_images=[frame.rotate(5), frame.rotate(10)], duration=100)
    empty = tmp_path / "empty.mp4"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 64)).release()
    jsonl = tmp_path / "out.jsonl"
    code = main(["detect", str(gif), str(empty), "--detector", "yunet", "--jsonl", str(jsonl)])
    records = {r["source"]: r for r in read_records(jsonl)}
    assert "3 frames: only the first was analysed" in records[str(gif)]["note"]
    assert "error" in records[str(empty)] and code == 1
    out = capsys.readouterr().out
    assert "only the first was analysed" in out


def test_max_side_finds_a_small_face_in_a_very_wide_image(model_cache, tmp_path):
    from emodet import EmotionDetector

    face = cv2.resize(read_image(SAMPLES / "astronaut.jpg")[30:250, 140:310], (60, 78))
    panorama = np.full((200, 6000, 3), 110, np.uint8)
    panorama[60:138, 3000:3060] = face
    assert len(EmotionDetector(detector="yunet")(panorama).faces) == 0  # shrunk 9x: a 7 px face
    found = EmotionDetector(detector="yunet", detector_options={"max_side": None})(panorama).faces
    assert len(found) == 1 and 2990 < found[0].box[0] < 3020


def test_an_empty_class_folder_is_refused_unless_allowed(tmp_path):
    from emodet.data import load_splits
    from emodet.errors import DataError

    for name in ("happy", "sad"):
        (tmp_path / "faces" / name).mkdir(parents=True)
    for i in range(4):
        shutil.copy(SAMPLES / "camera.png", tmp_path / "faces" / "happy" / f"{i}.png")
    with pytest.raises(DataError, match="sad hold no readable images"):
        load_splits(f"folder:{tmp_path / 'faces'}", val_fraction=0.25, test_fraction=0.25)
    splits = load_splits(f"folder:{tmp_path / 'faces'}", val_fraction=0.25, test_fraction=0.25,
                         allow_empty_classes=True)
    assert splits["train"].class_counts()["sad"] == 0
