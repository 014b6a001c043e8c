"""Wall time and peak memory of `emodet detect` batches, each run in a fresh process.

    python benchmarks/batch_scale.py [--detector mtcnn] [--images 400] [--large 8] [--repeats 3]
    python benchmarks/batch_scale.py --ray --detector yunet --images 2000 [--repeats 3] [--model M.onnx]

1. A folder of ``--images`` real FER2013 faces (PublicTest, upscaled and pasted at random sizes
   into 640x480 frames), 5% of them broken files, written to a temporary folder (never kept).
2. ``--large`` images of 9000x8000 pixels (72 megapixels, just under emodet's 80-megapixel limit)
   with one face each: memory must stay bounded by the pixels in flight, not grow with the count.
Each row is the median over ``--repeats`` runs of wall time (start-up included) and the peak
resident memory of the `emodet detect` process (``ru_maxrss`` of the child).

``--ray``: images per second on the folder of 1. for the plain CLI and for ``--engine ray`` with 1
and 2 workers (one core each), and the peak memory of the whole process tree (Ray's actors are
processes of their own).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pipeline_fidelity import SHARED, make_frame, seed_detector_cache  # noqa: E402


def write_faces(folder: Path, count: int) -> None:
    from emodet.data import load_split

    data = load_split(f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}", "val")
    rng = np.random.default_rng(0)
    for n, i in enumerate(rng.choice(len(data), size=count, replace=False)):
        frame, _ = make_frame(data.images[i, ..., 0], rng)
        path = folder / f"face{n:04d}.jpg"
        cv2.imwrite(str(path), frame[..., ::-1])
        if n % 20 == 7:  # 5% broken: cut in half
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def write_large(folder: Path, count: int) -> None:
    from emodet.imageio import read_image

    face = read_image(Path(__file__).resolve().parents[1] / "src" / "emodet" / "assets" / "samples" / "astronaut.jpg")
    face = cv2.resize(face[30:250, 140:310], (1700, 2200))
    for n in range(count):
        frame = np.full((8000, 9000, 3), 100 + n, np.uint8)
        frame[2000:4200, 3000:4700] = face
        cv2.imwrite(str(folder / f"large{n}.jpg"), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])


def run(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `emodet detect` process."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "emodet.cli", "detect", *args, "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def run_tree(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak summed RSS in MB of the process and all its children: Ray's actors too)."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "emodet.cli", "detect", *args, "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    peak = 0.0
    while child.poll() is None:
        peak = max(peak, _session_rss_mb(child.pid))
        time.sleep(0.2)
    return time.perf_counter() - started, peak


def _session_rss_mb(session: int) -> float:
    """Summed resident memory of every process in a session (the child and all it started, Ray's too)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:  # field 6 of /proc/PID/stat: the session id
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24: resident pages
        except (OSError, IndexError, ValueError):
            continue
    return total / 2 ** 20


def scaling_table(folder: Path, count: int, detector: str, repeats: int, work: Path, model: str | None) -> None:
    """Images per second: the plain CLI, and Ray with 1 and 2 actors of one core each."""
    print(f"\n{count} photos 640x480 (5% broken), detector {detector}, model {model or 'bundled'}; medians over "
          f"{repeats} runs, fresh process "
          "each, start-up included; memory: peak of the summed RSS of the process and all it started")
    print("start-up: the wall time on a folder of one photo; 'after start-up': (images - 1) / (wall - start-up)")
    print(f"{'engine':<26} {'wall s':>7} {'images/s':>9} {'x 1 worker':>10} {'start-up s':>10} "
          f"{'after start-up':>14} {'x 1 worker':>10} {'peak RSS MB':>12}")
    one = work / "one"
    one.mkdir(exist_ok=True)
    first = sorted(folder.glob("*.jpg"))[0]
    (one / first.name).write_bytes(first.read_bytes())
    base = None
    for label, extra in (("plain CLI (local engine)", ["--jsonl", "OUT.jsonl"]),
                         ("ray, 1 worker", ["--engine", "ray", "--workers", "1", "--output-dir", "OUT"]),
                         ("ray, 2 workers", ["--engine", "ray", "--workers", "2", "--output-dir", "OUT"])):
        def timed(source: Path, n: int) -> tuple[float, float]:
            out = work / f"out-{len(label)}-{source.name}-{n}"
            chosen = ["--model", model] if model else []
            return run_tree([str(source), "--detector", detector, *chosen,
                             *[a.replace("OUT", str(out)) for a in extra]])

        runs = [timed(folder, n) for n in range(repeats)]
        startup = statistics.median(timed(one, n)[0] for n in range(repeats))
        wall = statistics.median(r[0] for r in runs)
        rate, steady = count / wall, (count - 1) / max(wall - startup, 1e-9)
        if label.startswith("ray, 1"):
            base = (rate, steady)
        ratios = [f"{value / b:9.2f}x" if base else f"{'':>10}" for value, b in zip((rate, steady), base or (1, 1))]
        print(f"{label:<26} {wall:7.1f} {rate:9.2f} {ratios[0]} {startup:10.1f} {steady:14.2f} {ratios[1]} "
              f"{statistics.median(r[1] for r in runs):12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", default="mtcnn")
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--large", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", help="with --ray: the model every engine uses (default: the bundled .keras; "
                                         "an `emodet export --format onnx` file runs without TensorFlow)")
    parser.add_argument("--ray", action="store_true",
                        help="only the scaling table: plain CLI vs Ray with 1 and 2 one-core workers (--images 2000)")
    args = parser.parse_args()
    seed_detector_cache()
    work = Path(tempfile.mkdtemp(prefix="emodet-batch-"))
    (work / "faces").mkdir()
    if args.ray:
        write_faces(work / "faces", args.images)
        print(f"machine: {os.cpu_count()} CPU cores")
        scaling_table(work / "faces", args.images, args.detector, args.repeats, work, args.model)
        return
    (work / "large").mkdir()
    write_faces(work / "faces", args.images)
    write_large(work / "large", args.large)
    print(f"machine: {os.cpu_count()} CPU cores; detector {args.detector}; medians over {args.repeats} runs "
          "(fresh process each, start-up included)")
    print(f"{'batch':<36} {'wall s':>8} {'images/s':>9} {'peak RSS MB':>12}")
    for label, folder, count in ((f"{args.images} photos 640x480, 5% broken", work / "faces", args.images),
                                 (f"{args.large} photos of 72 megapixels", work / "large", args.large),
                                 ("1 photo of 72 megapixels", work / "large" / "large0.jpg", 1)):
        runs = [run([str(folder), "--detector", args.detector, "--jsonl", str(work / "out.jsonl")])
                for _ in range(args.repeats)]
        wall = statistics.median(r[0] for r in runs)
        peak = statistics.median(r[1] for r in runs)
        print(f"{label:<36} {wall:8.1f} {count / wall:9.2f} {peak:12.0f}")


if __name__ == "__main__":
    main()
