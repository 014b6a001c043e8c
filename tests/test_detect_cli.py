"""`emodet detect` over folders, globs and videos: outputs, annotated copies, failures and resume."""

import csv
import shutil

import cv2
import pytest
from conftest import SAMPLES, read_records
from test_video import make_video

from emodet.cli import main


@pytest.fixture
def photo_dir(tmp_path):
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(SAMPLES / "astronaut.jpg", folder / "astronaut.jpg")
    shutil.copy(SAMPLES / "camera.png", folder / "nested" / "camera.png")
    cv2.imwrite(str(folder / "blank.png"), 255 * (cv2.imread(str(SAMPLES / "camera.png")) > 300).astype("uint8"))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("not an image")
    data = (SAMPLES / "astronaut.jpg").read_bytes()
    (folder / "nested" / "cut.jpg").write_bytes(data[: len(data) // 3])
    return folder


def test_folder_run_records_failures_and_goes_on(photo_dir, tmp_path, capsys):
    jsonl, table = tmp_path / "out.jsonl", tmp_path / "out.csv"
    code = main(["detect", str(photo_dir), "--jsonl", str(jsonl), "--csv", str(table), "--save", str(tmp_path / "ann")])
    out = capsys.readouterr().out
    assert code == 1  # some inputs failed
    assert "3 image(s), 0 video frame(s), 2 face(s), 3 failed" in out
    assert "blank.png: no face found" in out and "0-byte" in out
    records = {r["source"].split("/")[-1]: r for r in read_records(jsonl)}
    assert set(records) == {"astronaut.jpg", "camera.png", "blank.png", "empty.jpg", "notes.png", "cut.jpg"}
    assert len(records["astronaut.jpg"]["faces"]) == 1 and "error" in records["cut.jpg"]
    rows = list(csv.DictReader(table.open()))
    assert sum(1 for r in rows if r["label"]) == 2
    assert sorted(p.name for p in (tmp_path / "ann").iterdir()) == ["astronaut.jpg", "blank.png", "camera.png"]


def test_resume_skips_finished_inputs(photo_dir, tmp_path, capsys):
    jsonl = tmp_path / "out.jsonl"
    main(["detect", str(photo_dir / "astronaut.jpg"), "--jsonl", str(jsonl)])
    capsys.readouterr()
    code = main(["detect", str(photo_dir), "--jsonl", str(jsonl), "--resume", "--quiet"])
    out = capsys.readouterr().out
    assert "resuming: 1 input(s) already done, 5 to go" in out
    sources = [r["source"] for r in read_records(jsonl)]
    assert len(sources) == 6 and sources.count(str(photo_dir / "astronaut.jpg")) == 1
    assert code == 1
    # Resuming into a file that does not exist says why every input runs again.
    main(["detect", str(photo_dir / "astronaut.jpg"), "--jsonl", str(tmp_path / "new.jsonl"), "--resume", "--quiet"])
    assert f"resuming: {tmp_path / 'new.jsonl'} does not exist, so no input is recorded as done and all 1 will run" \
        in capsys.readouterr().out


def test_video_and_glob_sources(model_cache, tmp_path, capsys):
    video = make_video(tmp_path / "clip.mp4", frames=8)
    shutil.copy(SAMPLES / "astronaut.jpg", tmp_path / "a.jpg")
    jsonl = tmp_path / "out.jsonl"
    code = main(["detect", str(video), str(tmp_path / "*.jpg"), "--detector", "yunet", "--stride", "2",
                 "--jsonl", str(jsonl), "--save", str(tmp_path / "ann")])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 image(s), 4 video frame(s), 5 face(s), 0 failed" in out
    records = read_records(jsonl)
    assert [r.get("frame") for r in records if "frame" in r] == [0, 2, 4, 6]
    assert {"source": str(video), "completed": True, "frames": 4} in records
    annotated = cv2.VideoCapture(str(tmp_path / "ann" / "clip.annotated.mp4"))
    assert int(annotated.get(cv2.CAP_PROP_FRAME_COUNT)) == 4


@pytest.mark.parametrize("argv, fragment", [
    (["detect", "x.jpg", "--stride", "0"], "--stride must be at least 1"),
    (["detect", "x.jpg", "--resume"], "--resume needs --jsonl, --csv or --json"),
    (["detect", "x.jpg", "--retry-failed"], "--retry-failed goes with --resume"),
    (["detect", "x.jpg", "--max-side", "10"], "--max-side must be 0"),
    (["detect", "x.jpg", "--jsonl", "/no/such/folder/out.jsonl"], "choose a folder that exists and is writable"),
    (["detect", "x.jpg", "--detector", "haar"], "unknown"),
    (["detect", "x.jpg", "--model", "/no/model.onnx"], "does not exist"),
    (["detect", "x.jpg", "--model", "/"], "model / is a directory, not a model file"),
    (["evaluate", "/", "--data", "fer2013:x"], "model / is a directory, not a model file"),
])
def test_bad_arguments(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
