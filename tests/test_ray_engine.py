"""`emodet detect --engine ray`: a real local Ray cluster over real FER2013 faces in photos.

Two actors of one core each; the same records as the single-process engine; broken inputs are
rows with their error; a rerun skips what is done, and a job cut short resumes to one record per
input; bad addresses and folders are one-line errors.
"""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import read_records

from emodet.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photos(tmp_path_factory, fer_splits):
    """24 real FER2013 test faces, upscaled into 200x200 grey photos; 3 broken files; one video."""
    folder = tmp_path_factory.mktemp("ray-photos")
    for i, face in enumerate(fer_splits["test"].images[:24, :, :, 0]):
        frame = np.full((200, 200), 120, np.uint8)
        frame[40:160, 40:160] = cv2.resize(face, (120, 120), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"img{i:03d}.png"), frame)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_bytes(b"not an image")
    (folder / "cut.png").write_bytes((folder / "img000.png").read_bytes()[:300])
    writer = cv2.VideoWriter(str(folder / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (200, 200))
    frame = cv2.cvtColor(cv2.imread(str(folder / "img001.png")), cv2.COLOR_BGR2RGB)
    for _ in range(6):
        writer.write(frame)
    writer.release()
    return folder


def _records(folder):
    return [record for shard in sorted(folder.glob("part-*.jsonl")) for record in read_records(shard)]


def _ray_job_on_copies(photos, tmp_path, copies: int, **popen):
    """``copies`` photos in a new folder and a Ray detect job over them (2 workers) as a process;
    returns the folder, the output folder, the command and the job."""
    import shutil

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(copies):
        shutil.copy(photos / f"img{i % 24:03d}.png", folder / f"p{i:03d}.png")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "emodet.cli", "detect", str(folder), "--engine", "ray", "--workers", "2",
               "--output-dir", str(out)]
    return folder, out, command, subprocess.Popen(command, **popen)


def _written(out) -> int:
    """Records the job's shards hold so far."""
    return sum(len(s.read_text().splitlines()) for s in out.glob("part-*.jsonl")) if out.is_dir() else 0


def test_ray_gives_the_records_of_the_local_engine_and_resumes(photos, model_cache, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["detect", str(photos), "--engine", "ray", "--workers", "2", "--output-dir", str(out),
                 "--parquet"]) == 1
    assert "3 failed" in capsys.readouterr().out
    records = _records(out)
    assert _parquet_records(out) == records  # the same records and fields, nested as in the JSON
    assert main(["detect", str(photos), "--jsonl", str(tmp_path / "local.jsonl"), "--quiet"]) == 1
    local = read_records(tmp_path / "local.jsonl")
    key = lambda r: (r["source"], r.get("frame", -1), "completed" in r)  # noqa: E731
    assert sorted(map(key, records)) == sorted(map(key, local))  # every image, frame and error, once
    by_key = {key(r): r for r in local}
    for record in records:
        expected = by_key[key(record)]
        assert [f["label"] for f in record.get("faces", [])] == [f["label"] for f in expected.get("faces", [])]
        assert ("error" in record) == ("error" in expected)
    assert sum("error" in r for r in records) == 3

    # A rerun skips everything; a job cut short (the last records lost, the last line cut) resumes.
    assert main(["detect", str(photos), "--engine", "ray", "--workers", "2", "--output-dir", str(out)]) == 0
    assert "0 input(s) processed, 28 already done" in capsys.readouterr().out
    shard = sorted(out.glob("part-*.jsonl"))[0]
    lines = shard.read_text().splitlines(keepends=True)
    shard.write_text("".join(lines[:10]) + lines[10][:25])
    assert main(["detect", str(photos), "--engine", "ray", "--workers", "1", "--output-dir", str(out),
                 "--parquet"]) == 1
    resumed = _records(out)
    assert sorted(map(key, resumed)) == sorted(map(key, local))
    assert _parquet_records(out) == resumed  # the repaired shard's twin was written again


def test_videos_split_into_ranges_and_inputs_named_by_uri(photos, model_cache, tmp_path, capsys):
    """A 40-frame video in ranges of 8 frames, images (one broken) and a video listed through a
    ``file://`` URI (pyarrow's filesystem layer, as for ``s3://``), images decoded in Ray tasks, an
    ONNX model in the actors, and a URI that names nothing: the local engine and Ray give the same
    records, each frame once and one completion per video."""
    long = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(long), cv2.VideoWriter_fourcc(*"MJPG"), 10, (200, 200))
    for i in range(40):
        face = cv2.imread(str(photos / f"img{i % 24:03d}.png"))
        writer.write(face)
    writer.release()
    sources = [f"file://{photos}/img00*.png", f"file://{photos}/cut.png", str(long), f"file://{photos}/clip.avi",
               "file:///nowhere/emodet/"]
    import emodet
    from emodet.bundled import load_bundled_model

    onnx = str(emodet.export(load_bundled_model(), tmp_path / "bundled.onnx", "onnx"))  # actors run it without TF
    out = tmp_path / "out"
    assert main(["detect", *sources, "--model", onnx, "--engine", "ray", "--workers", "2", "--frames-per-task", "8",
                 "--decode-in-tasks", "--output-dir", str(out)]) == 1
    assert "2 failed" in capsys.readouterr().out
    assert main(["detect", *sources, "--model", onnx, "--jsonl", str(tmp_path / "local.jsonl"), "--quiet"]) == 1
    local = read_records(tmp_path / "local.jsonl")
    records = _records(out)
    key = lambda r: (r["source"], r.get("frame", -1), r.get("frames"), "error" in r)  # noqa: E731
    assert sorted(map(key, records)) == sorted(map(key, local))
    labels = {key(r): [f["label"] for f in r.get("faces", [])] for r in local}
    assert all([f["label"] for f in r.get("faces", [])] == labels[key(r)] for r in records)
    assert sorted(r["frame"] for r in records if r["source"] == str(long) and "frame" in r) == list(range(40))
    completed = [(r["source"], r["frames"]) for r in records if r.get("completed")]
    assert sorted(completed) == sorted([(str(long), 40), (f"file://{photos}/clip.avi", 6)])
    images = sorted(r["source"] for r in records if "faces" in r and "frame" not in r)
    assert images == [f"file://{photos}/img{i:03d}.png" for i in range(10)]
    errors = {r["source"]: r["error"] for r in records if "error" in r}
    assert "does not exist" in errors.pop("file:///nowhere/emodet/")
    assert "damaged or truncated" in errors.pop(f"file://{photos}/cut.png") and not errors


def test_a_video_cut_into_ranges_summarizes_into_one_track_per_person(fer_splits, model_cache, tmp_path):
    """Each range's tracks are numbered anew by its actor; the summary of the shards links them back
    into the two people of the scene, as the single-process run tracks them."""
    from face_scenes import FRAMES, two_people
    from test_detection_report import fer_faces

    from emodet import EmotionDetector
    from emodet.summary import summarize

    video = tmp_path / "two_people.mp4"
    two_people(video, EmotionDetector(detector="yunet"), *fer_faces(fer_splits))
    out = tmp_path / "out"
    assert main(["detect", str(video), "--engine", "ray", "--workers", "2", "--frames-per-task", "8",
                 "--detector", "yunet", "--output-dir", str(out)]) == 0
    assert len({r["segment"] for r in _records(out) if "frame" in r}) == FRAMES // 8
    (summary,) = summarize(out, thumbnails=False).videos
    assert [len(track.times) for track in summary.tracks] == [FRAMES, FRAMES] and not summary.others
    assert {track.label for track in summary.tracks} <= {"happy", "surprise", "neutral", "sad"}


def _parquet_records(folder):
    import pyarrow.parquet as pq

    rows = [row for twin in sorted(folder.glob("part-*.parquet")) for row in pq.read_table(twin).to_pylist()]
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


@pytest.mark.parametrize("argv, fragment", [
    (["--engine", "ray"], "give --output-dir"),
    (["--engine", "ray", "--output-dir", "OUT", "--csv", "x.csv"], "--csv go with the local engine"),
    (["--engine", "ray", "--output-dir", "OUT", "--address", "127.0.0.1:1"], "cannot reach the Ray cluster"),
    (["--engine", "ray", "--output-dir", "/proc/emodet-out"], "cannot write results into /proc/emodet-out"),
    (["--parquet", "--jsonl", "x.jsonl"], "--parquet go(es) with --engine ray"),
    (["--engine", "ray", "--output-dir", "OUT", "--frames-per-task", "0"], "--frames-per-task must be at least 1"),
    (["--engine", "ray", "--output-dir", "OUT", "--gpus-per-worker", "-1"], "--gpus-per-worker must be positive"),
])
def test_bad_ray_requests_are_one_line(photos, tmp_path, argv, fragment, capsys):
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    assert main(["detect", str(photos), *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_the_local_engine_never_imports_ray(model_cache):
    from conftest import SAMPLES

    code = ("import sys; from emodet.cli import main; "
            f"rc = main(['detect', {str(SAMPLES / 'astronaut.jpg')!r}, '--quiet']); "
            "assert rc == 0; assert 'ray' not in sys.modules, 'ray imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_worker_killed_mid_job_is_replaced_and_every_input_finishes(photos, model_cache, tmp_path):
    import os
    import signal
    import time

    folder, out, _, job = _ray_job_on_copies(photos, tmp_path, 400, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             text=True)
    killed = None
    deadline = time.monotonic() + 240
    while killed is None and job.poll() is None and time.monotonic() < deadline:
        actors = subprocess.run(["pgrep", "-f", "MapWorker"], capture_output=True, text=True).stdout.split()
        if _written(out) >= 20 and actors:
            killed = int(actors[0])
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    stdout, stderr = job.communicate(timeout=600)
    assert killed is not None, f"the job ended before a worker could be killed: {stdout}"
    assert job.returncode == 0, stderr[-3000:]
    sources = [r["source"] for r in _records(out)]
    assert sorted(set(sources)) == sorted(str(p) for p in folder.iterdir())  # every input has its record
    assert "1 worker(s) died and were replaced" in stdout, stdout  # Ray's own restart count


def test_sigterm_finishes_like_the_local_engine(photos, model_cache, tmp_path):
    """SIGTERM mid-job: the driver closes its shards, prints its summary and exits 128 + 15, with
    no native stack dump; a rerun finishes the rest, each input once."""
    import signal
    import time

    folder, out, command, job = _ray_job_on_copies(photos, tmp_path, 300, stdout=subprocess.PIPE,
                                                   stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while job.poll() is None and time.monotonic() < deadline:
        if _written(out) >= 20:
            job.send_signal(signal.SIGTERM)
            break
        time.sleep(0.2)
    stdout, stderr = job.communicate(timeout=300)
    assert job.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    assert "input(s) processed" in stdout and "interrupted by SIGTERM" in stderr
    assert "SIGTERM received" not in stderr and "Traceback" not in stderr
    first = len(_records(out))
    assert 20 <= first < 300
    subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    sources = [r["source"] for r in _records(out)]
    assert sorted(sources) == sorted(str(p) for p in folder.iterdir())  # each input once, none lost


def test_a_driver_killed_outright_leaves_no_ray_process_behind(photos, model_cache, tmp_path):
    """SIGKILL of the driver mid-job: Ray's own cleanup leaves its two agents a minute (they wait on
    the dead GCS); emodet's watchdog (emodet.inference.ray_reaper) ends every process of the cluster
    within seconds, the finished records intact."""
    import signal
    import time

    _, out, _, job = _ray_job_on_copies(photos, tmp_path, 300, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while job.poll() is None and time.monotonic() < deadline and _written(out) < 20:
        time.sleep(0.2)
    cluster = _descendants(job.pid)  # gcs, raylet, agents, workers (and the watchdog)
    assert "raylet" in cluster.values() and len(cluster) >= 6, cluster
    job.send_signal(signal.SIGKILL)
    job.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in cluster):
        time.sleep(0.5)
    alive = {pid: name for pid, name in cluster.items() if Path(f"/proc/{pid}").exists()}
    assert not alive, f"left 15 s after the driver was killed: {alive}"
    assert len(_records(out)) >= 20  # what was finished stays


def _descendants(root: int) -> dict[int, str]:
    """Every process below ``root`` (pid -> command name), from ps."""
    table = [line.split(None, 2) for line in subprocess.run(["ps", "-eo", "pid=,ppid=,comm="], capture_output=True,
                                                             text=True, check=True).stdout.splitlines()]
    found, frontier = {}, {root}
    while frontier:
        frontier = {int(pid) for pid, ppid, _ in table if int(ppid) in frontier} - set(found)
        found.update({int(pid): name for pid, _, name in table if int(pid) in frontier})
    return found


def test_workers_beyond_the_memory_are_allowed_with_a_warning():
    """The default pool and the warning come from the memory available now (about 1 GB per
    TensorFlow actor, a quarter of that per ONNX one, the bundled model's included); no Ray is
    started to check them."""
    from emodet.inference.ray_engine import memory_cap, workers_warning

    assert memory_cap("model.onnx") >= 3 * memory_cap("model.keras") >= 3
    assert memory_cap(None) == memory_cap("model.onnx")  # the bundled model runs as its ONNX file
    assert workers_warning(1, None, None) is None
    warning = workers_warning(10_000, None, None)
    assert "--workers 10000 is more than this machine's memory holds" in warning and "going on as asked" in warning
    assert workers_warning(10_000, None, "HEAD:6379") is None  # a cluster's memory is not this machine's
