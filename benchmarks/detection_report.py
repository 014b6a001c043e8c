"""What the detection report costs: its share of a detect run, its rendering in a browser, and
`emodet summarize` over a million frame records.

1. A MINUTES-long 640x480 video at 25 fps of three people made of real FER2013 faces (moving
   about, changing expression every 20 s; tests/face_scenes.py), run through `emodet detect
   --stride 2 --jsonl` without and with `--report`, alternately, REPEATS times each: the median
   wall times and their ratio (the issue's target: the report adds at most 10%).
2. The report opened in headless Chromium (Playwright), REPEATS times: the median time from
   navigation to the load event, every image decoded (target: at most 2 s).
3. A JSON Lines file of RECORDS frame records (the run's own records, repeated over as many
   videos as it takes), summarised by `emodet summarize FILE --csv OUT` in a child process:
   wall time and peak resident memory (target: 1 million records in at most 60 s and 500 MB).

    python benchmarks/detection_report.py [--minutes 10] [--repeats 3] [--records 1000000]

Needs the shared data (FER2013), the face detector files, the report extra and Chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from face_scenes import Actor, confident_face, write_scene  # noqa: E402

FPS = 25.0


def people(faces: dict[str, np.ndarray], frames: int) -> list[Actor]:
    """Three people wandering (each on a slow loop of its own), changing expression every 20 s."""
    order = list(faces)
    every = int(20 * FPS)

    def wander(cx, cy, rx, ry, period, phase):
        def where(frame):
            angle = 2 * np.pi * frame / (period * FPS) + phase
            return cx + rx * np.cos(angle), cy + ry * np.sin(angle)
        return where

    loops = [(170, 170, 90, 50, 37, 0.0), (470, 170, 90, 60, 29, 2.0), (320, 350, 180, 40, 43, 4.0)]
    return [Actor([(start, faces[order[(n + start // every) % len(order)]]) for start in range(0, frames, every)],
                  wander(*loop), side=110) for n, loop in enumerate(loops)]


#: Runs a command given as JSON and prints its peak resident memory in MB: a process of its own, so
#: that the peak is that command's alone, not that of every child this benchmark started.
_PEAK = ("import json, resource, subprocess, sys; done = subprocess.run(json.loads(sys.argv[1]), capture_output=True);"
         "sys.stderr.buffer.write(done.stderr); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024);"
         "sys.exit(done.returncode)")


def timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident memory (MB) of ``command``."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK, json.dumps(command)], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started, int(done.stdout.split()[-1])


def render_seconds(report: Path, repeats: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    chromium = "/usr/bin/chromium"
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        for _ in range(repeats):
            page = browser.new_page()
            page.goto(report.as_uri(), wait_until="load")
            ok = page.evaluate("[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
            seconds = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd / 1000")
            assert ok, "an image of the report did not decode"
            times.append(seconds)
            page.close()
        browser.close()
    return times


def many_records(jsonl: Path, target: Path, count: int) -> int:
    """Write ``count`` frame records made of the run's own, over as many videos as it takes."""
    lines = jsonl.read_text().splitlines()
    frames = [json.loads(line) for line in lines if '"frame"' in line]
    written = 0
    with open(target, "w") as out:
        out.write(lines[0] + "\n")  # the run header
        video = 0
        while written < count:
            for record in frames[:count - written]:
                out.write(json.dumps({**record, "source": f"/videos/copy{video}.mp4"}) + "\n")
            written += min(len(frames), count - written)
            video += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    from emodet import EmotionDetector
    from emodet.data import load_split

    shared = Path(os.environ.get("EMODET_SHARED", REPO.parent / "shared"))
    test = load_split(f"fer2013:{shared / 'data/fer2013/fer2013.csv.gz'}", "test")
    detector = EmotionDetector(detector="yunet")
    faces = {c: confident_face(detector, test.images, test.labels, c, side=110)
             for c in ("happy", "neutral", "surprise", "sad")}
    emodet = [sys.executable, "-m", "emodet.cli"]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        frames = int(args.minutes * 60 * FPS)
        video = folder / "three_people.mp4"
        write_scene(video, people(faces, frames), frames, fps=FPS)
        plain, reported = [], []
        for _ in range(args.repeats):
            run = [*emodet, "detect", str(video), "--stride", "2", "--quiet", "--jsonl"]
            plain.append(timed(run + [str(folder / "plain.jsonl")])[0])
            reported.append(timed(run + [str(folder / "with.jsonl"), "--report", str(folder / "report.html")])[0])
        report = folder / "report.html"
        renders = render_seconds(report, args.repeats)
        big = folder / "million.jsonl"
        count = many_records(folder / "with.jsonl", big, args.records)
        summarize_s, summarize_mb = timed([*emodet, "summarize", str(big), "--csv", str(folder / "tracks.csv")])
        size_mb = big.stat().st_size / 1e6
        report_mb = report.stat().st_size / 1e6
    a, b = float(np.median(plain)), float(np.median(reported))
    print(f"\n{args.minutes:g}-minute 640x480 video, {frames} frames at {FPS:g} fps, three people, --stride 2; "
          f"medians of {args.repeats} runs\n")
    print("| measurement | value | target |")
    print("|---|---|---|")
    print(f"| emodet detect --jsonl | {a:.1f} s | |")
    print(f"| emodet detect --jsonl --report | {b:.1f} s | |")
    print(f"| the report's share of the run | {100 * (b / a - 1):+.1f}% | <= +10% |")
    print(f"| the report (HTML, {report_mb:.1f} MB) loaded in headless Chromium | {np.median(renders):.2f} s "
          "| <= 2 s |")
    print(f"| emodet summarize, {count:,} frame records ({size_mb:.0f} MB of JSON Lines) | {summarize_s:.1f} s, "
          f"{summarize_mb} MB peak | <= 60 s, <= 500 MB |")


if __name__ == "__main__":
    main()
