"""The detection report and `emodet summarize`: per-person timelines of a real video made of real faces,
photo collections, the report in a real headless Chromium, and damaged or foreign records."""

import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import SAMPLES, read_records
from face_scenes import FRAMES, SWITCH, two_people

from emodet import EmotionDetector
from emodet.cli import main
from emodet.summary import MIN_TRACK_SECONDS, summarize, write_report

FPS = 10.0


@pytest.fixture(scope="module")
def scene(tmp_path_factory, fer_splits, model_cache):
    """:func:`face_scenes.two_people` from real FER2013 test faces, detected with --jsonl and --report."""
    folder = tmp_path_factory.mktemp("scene")
    video = folder / "two_people.mp4"
    two_people(video, EmotionDetector(detector="yunet"), *fer_faces(fer_splits), fps=FPS)
    jsonl, report = folder / "run.jsonl", folder / "report.html"
    assert main(["detect", str(video), "--detector", "yunet", "--jsonl", str(jsonl), "--report", str(report),
                 "--quiet"]) == 0
    return video, jsonl, report


def fer_faces(fer_splits) -> tuple[np.ndarray, np.ndarray]:
    """FER2013 PublicTest's faces, (N, 48, 48, 1), and their labels."""
    return fer_splits["test"].images, fer_splits["test"].labels


def test_two_people_give_two_tracks_whose_timelines_change_where_the_faces_change(scene):
    _, jsonl, _ = scene
    summary = summarize(jsonl)
    (video,) = summary.videos
    assert len(video.tracks) == 2 and not video.others
    for track in video.tracks:
        top = np.mean(_centres_y(jsonl, track.track_id)) < 240
        before, after = ("happy", "surprise") if top else ("neutral", "sad")
        labels = np.array(track.class_names)[track.labels]
        switch = SWITCH / FPS
        assert np.mean(labels[track.times < switch - 0.2] == before) > 0.9, labels
        assert np.mean(labels[track.times > switch + 0.6] == after) > 0.9, labels
        first_after = track.times[np.argmax(labels == after)]
        assert switch <= first_after <= switch + 0.6  # smoothing delays the change by a few frames, no more
        assert track.duration == pytest.approx(FRAMES / FPS, abs=0.15)
        assert track.best is not None and track.best.thumbnail is not None  # cut back from the video
        assert abs(track.shares[before] - 0.5) < 0.15 and abs(track.shares[after] - 0.5) < 0.15


def _centres_y(jsonl, track_id) -> list[float]:
    return [face["box"][1] + face["box"][3] / 2 for record in read_records(jsonl)
            for face in record.get("faces", ()) if face.get("track_id") == track_id]


def test_the_run_header_says_what_produced_the_records(scene):
    _, jsonl, _ = scene
    header = json.loads(jsonl.read_text().splitlines()[0])["run"]
    assert header["model"] == "bundled" and header["classes"][3] == "happy"
    assert header["settings"]["detector"] == "yunet" and header["stride"] == 1
    summary = summarize(jsonl, thumbnails=False)
    assert summary.headers == [header] and not summary.problems


def test_the_report_renders_its_figures_in_headless_chromium(scene, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    _, _, report = scene
    text = report.read_text()
    assert "http://" not in text and "https://" not in text  # nothing fetched from the network
    assert text.count("<figure>") >= 4 and "Person #1" not in text  # figures are images, titles inside them
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        page.goto(report.as_uri())
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.clientWidth])")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert len(images) >= 6 and all(done and natural > 0 for done, natural, _ in images)  # 4 figures, 2 faces
    assert all(shown <= 390 for _, _, shown in images) and overflow <= 0  # scaled to the phone, no sideways scroll
    pixels = cv2.imread(str(shot))[..., ::-1]
    happy = np.all(np.abs(pixels.astype(int) - (255, 195, 0)) < 20, axis=-1)
    surprise = np.all(np.abs(pixels.astype(int) - (255, 127, 80)) < 20, axis=-1)
    assert happy.sum() > 500 and surprise.sum() > 500  # the bands and timelines are drawn, in the emotions' colours


def test_summarize_writes_the_time_series_and_prints_each_person(scene, tmp_path, capsys):
    _, jsonl, _ = scene
    table, parquet = tmp_path / "tracks.csv", tmp_path / "tracks.parquet"
    assert main(["summarize", str(jsonl), "--csv", str(table), "--parquet", str(parquet)]) == 0
    out = capsys.readouterr().out
    assert "2 person(s) tracked" in out and "mostly" in out
    import pandas as pd

    rows = pd.read_csv(table)
    assert len(rows) == 2 * FRAMES and set(rows["track_id"]) == {1, 2}
    assert np.allclose(rows.filter(like="p_").sum(axis=1), 1, atol=1e-3)
    frame = pd.read_parquet(parquet)
    assert len(frame) == len(rows) and list(frame.columns) == list(rows.columns)
    tables = summarize(jsonl, thumbnails=False).tables()
    assert len(tables["tracks"]) == 2 and len(tables["timeline"]) == 2 * FRAMES


def test_ray_ranges_are_linked_into_one_track_per_person(scene):
    """Ray runs cut a video into ranges whose tracks are numbered anew: the summary joins them again.
    The ranges are cut from the real run's records, as the Ray engine writes them."""
    _, jsonl, _ = scene
    records = read_records(jsonl)
    for record in records:
        if "frame" in record and record["frame"] >= 25:
            record["segment"] = 25
            for face in record["faces"]:
                face["track_id"] = 3 - face["track_id"]  # the other range's numbering
    summary = summarize(list(reversed(records)), thumbnails=False)  # ranges arrive in any order
    (video,) = summary.videos
    assert len(video.tracks) == 2 and [len(t.times) for t in video.tracks] == [FRAMES, FRAMES]
    for track in video.tracks:
        assert np.all(np.diff(track.frames) == 1)


def test_a_photo_folder_report_groups_faces_and_lists_failures(tmp_path, model_cache, face_images):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(SAMPLES / "astronaut.jpg", folder)
    shutil.copy(SAMPLES / "camera.png", folder)
    cv2.imwrite(str(folder / "wall.png"), np.full((240, 320, 3), 128, np.uint8))
    (folder / "notes.jpg").write_text("not an image")
    report = tmp_path / "photos.html"
    assert main(["detect", str(folder), "--detector", "yunet", "--report", str(report), "--quiet"]) == 1
    text = report.read_text()
    assert "Photos with no face (1)" in text and "wall.png" in text
    assert "Failed inputs (1)" in text and "notes.jpg" in text and "not an image file" in text
    assert text.count('class="thumb"') == 2 * 2  # two faces: each in the gallery and among the least confident
    summary = summarize([_journal_of(folder, tmp_path)], thumbnails=True)
    assert summary.photos.photos == 3 and summary.photos.faces == 2 and summary.failure_count == 1
    assert sum(summary.photos.faces_per_class.values()) == 2
    assert all(ref.thumbnail is not None for ref in summary.faces())  # read back from the photos


def _journal_of(folder, tmp_path):
    jsonl = tmp_path / "photos.jsonl"
    main(["detect", str(folder), "--detector", "yunet", "--jsonl", str(jsonl), "--quiet"])
    return jsonl


def test_a_resumed_run_reports_every_part(tmp_path, model_cache, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(SAMPLES / "astronaut.jpg", folder)
    shutil.copy(SAMPLES / "camera.png", folder)
    jsonl, report = tmp_path / "run.jsonl", tmp_path / "run.html"
    assert main(["detect", str(folder / "astronaut.jpg"), "--jsonl", str(jsonl), "--quiet"]) == 0
    assert main(["detect", str(folder), "--jsonl", str(jsonl), "--resume", "--report", str(report), "--quiet",
                 "--max-side", "480"]) == 0
    summary = summarize(jsonl, thumbnails=False)
    assert summary.photos.photos == 2 and len(summary.headers) == 2  # one header per part with other settings
    assert [h["settings"]["max_side"] for h in summary.headers] == [640, 480]
    assert "run part 2" in report.read_text() and "2 photo(s) with 2 face(s)" in report.read_text()


@pytest.mark.parametrize("damage", ["empty", "cut_last_line", "other_version", "missing_shard", "no_header"])
def test_damaged_records_give_a_report_that_says_what_is_missing(scene, tmp_path, damage):
    _, jsonl, _ = scene
    lines = jsonl.read_text().splitlines(keepends=True)
    target = tmp_path / "records.jsonl"
    expected = {
        "empty": "no results",
        "cut_last_line": "the last line is cut short",
        "other_version": "written by emodet 0.0.9",
        "missing_shard": "1 shard(s) missing (part-00001.jsonl)",
        "no_header": "carry no run header",
    }[damage]
    if damage == "empty":
        target.write_text("")
    elif damage == "cut_last_line":
        target.write_text("".join(lines[:-2]) + lines[-2][:40])
    elif damage == "other_version":
        header = json.loads(lines[0])
        header["run"]["emodet_version"] = "0.0.9"
        target.write_text(json.dumps(header) + "\n" + "".join(lines[1:]))
    elif damage == "missing_shard":
        target = tmp_path / "shards"
        target.mkdir()
        (target / "part-00000.jsonl").write_text("".join(lines[:20]))
        (target / "part-00002.jsonl").write_text(lines[0] + "".join(lines[30:]))
    else:
        target.write_text("".join(lines[1:]))
    summary = summarize(target, thumbnails=False)
    report = write_report(summary, tmp_path / "r.html")
    assert expected in report.read_text()
    if damage == "cut_last_line":
        assert summary.videos[0].analysed_frames == FRAMES - 1  # all but the cut one
    if damage == "missing_shard":
        assert summary.videos[0].analysed_frames == 19 + 11  # the frames of the two shards that are there


def test_records_emodet_did_not_write_are_left_out_and_counted(tmp_path):
    lines = ['{"source": "a.mp4", "frame": "x", "faces": []}', '{"source": "a.mp4", "frame": 1, "faces": "oops"}',
             '{"source": "b.jpg", "faces": [1, {"probs": 3}, {"box": "?", "probs": {"happy": 0.9, "sad": 0.1}}]}',
             '{"source": "c.mp4", "frame": 0, "faces": [{"box": [1, 2], "probs": {"happy": 0.9, "sad": 0.1}}]}']
    (tmp_path / "odd.jsonl").write_text("\n".join(lines) + "\n")
    summary = summarize(tmp_path / "odd.jsonl")
    assert summary.photos.faces == 1 and len(summary.videos) == 2
    assert any("1 record(s) had a frame number" in p for p in summary.problems)
    assert any("2 face(s) had no probabilities" in p for p in summary.problems)
    page = write_report(summary, tmp_path / "odd.html").read_text()  # and the report says so
    assert "Read with care" in page and "2 face(s) had no probabilities" in page


def test_bad_arguments_get_one_line(tmp_path, capsys):
    assert main(["summarize", str(tmp_path / "nowhere.jsonl")]) == 2
    assert "do not exist" in capsys.readouterr().err
    assert main(["summarize", str(tmp_path)]) == 2
    assert "holds no part-NNNNN.jsonl shards" in capsys.readouterr().err
    (tmp_path / "r.jsonl").write_text("")
    assert main(["summarize", str(tmp_path / "r.jsonl"), "--report", str(tmp_path / "no" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["detect", str(SAMPLES / "astronaut.jpg"), "--report", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_short_tracks_are_folded_into_others():
    """A face seen for less than a second (detector flicker) is no person of its own."""
    records = [{"source": "v.mp4", "frame": i, "timestamp": i / 10, "width": 64, "height": 64,
                "faces": [{"box": [0, 0, 10, 10], "detection_score": 0.9, "track_id": 1 if i < 30 else 2,
                           "probs": {"happy": 0.9, "sad": 0.1}}]} for i in range(35)]
    (video,) = summarize(records, thumbnails=False).videos
    assert [t.track_id for t in video.tracks] == [1] and [t.track_id for t in video.others] == [2]
    assert video.others[0].duration < MIN_TRACK_SECONDS <= video.tracks[0].duration
