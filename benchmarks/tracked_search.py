"""What searching followed large faces at 320 px (``InferenceSettings.tracked_side``) costs and buys.

1. Time: a 640x480 frame with one webcam-sized face (the bundled astronaut, 200x260 px) through the
   default path (YuNet, the bundled ONNX model, a tracker), median milliseconds per frame over a
   100-frame clip, with the smaller search and with every frame searched at full size, in the
   same process, REPEATS times.
2. Quality: FER2013 PublicTest faces (a seeded sample of FACES) pasted at 100, 130 and 200 px into a
   640x480 frame, each searched at full size and at 320 px as a followed face would be: how often
   the smaller search falls back to full size (it found no face), how often both give the same
   label, and the accuracy of each against FER2013's labels.

    python benchmarks/tracked_search.py [--faces 300] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_fidelity import seed_detector_cache  # noqa: E402


def clip(frames: int = 100) -> list[np.ndarray]:
    from emodet.imageio import read_image

    face = cv2.resize(read_image(REPO / "src/emodet/assets/samples/astronaut.jpg")[30:250, 140:310], (200, 260))
    out = []
    for i in range(frames):
        frame = np.full((480, 640, 3), 110, np.uint8)
        frame[100:360, 150 + i:350 + i] = face
        out.append(frame)
    return out


def ms_per_frame(detector, frames: list[np.ndarray]) -> float:
    tracker = detector.new_tracker()
    detector.analyse(frames[0])  # warm-up
    times = []
    for frame in frames:
        started = time.perf_counter()
        detector.analyse(frame, tracker=tracker)
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def quality(full, small, images, labels, side: int) -> dict:
    """Each face at ``side`` px: the full-size search and the 320-px one a followed face gets."""
    used = fallback = agree = right_full = right_small = 0
    for image, label in zip(images, labels):
        face = cv2.resize(np.repeat(image, 3, axis=-1), (side, side), interpolation=cv2.INTER_CUBIC)
        frame = np.full((480, 640, 3), 110, np.uint8)
        frame[150:150 + side, 250:250 + side] = face
        a = full.analyse(frame)
        tracker = small.new_tracker()
        tracker.update(np.array([[250, 150, side, side]], float), np.zeros((1, 7), np.float32))
        b = small.analyse(frame, tracker=tracker)
        if tracker.last_search_side != small.settings.tracked_side:
            fallback += 1
            continue
        if a.faces and b.faces:
            used += 1
            agree += a.faces[0].label == b.faces[0].label
            right_full += a.faces[0].label == full.class_names[label]
            right_small += b.faces[0].label == full.class_names[label]
    return {"used": used, "fallback": fallback, "agree": agree / max(used, 1),
            "full": right_full / max(used, 1), "small": right_small / max(used, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    seed_detector_cache()
    from emodet import EmotionDetector
    from emodet.data import load_split
    from emodet.inference.settings import InferenceSettings

    frames = clip()
    small, full = EmotionDetector(), EmotionDetector(settings=InferenceSettings(tracked_side=None))
    timings = [(ms_per_frame(full, frames), ms_per_frame(small, frames)) for _ in range(args.repeats)]
    a, b = statistics.median(t[0] for t in timings), statistics.median(t[1] for t in timings)
    print(f"\n640x480 frame, one 200x260 face, default path (yunet, bundled ONNX, tracker), "
          f"{os.cpu_count()} cores; median of {args.repeats} runs of 100 frames\n")
    print("| search | ms per frame |\n|---|---|")
    print(f"| every frame at 640 px | {a:.2f} |\n| followed faces at 320 px (default) | {b:.2f} ({a / b:.2f}x) |")

    shared = Path(os.environ.get("EMODET_SHARED", REPO.parent / "shared"))
    test = load_split(f"fer2013:{shared / 'data/fer2013/fer2013.csv.gz'}", "test")
    pick = np.random.default_rng(0).choice(len(test.images), args.faces, replace=False)
    small, full = (EmotionDetector(settings=InferenceSettings(smoothing=0.0)),
                   EmotionDetector(settings=InferenceSettings(smoothing=0.0, tracked_side=None)))
    print(f"\n{args.faces} FER2013 PublicTest faces (seed 0) pasted into a 640x480 frame\n")
    print("| face size | searched at 320 | fell back to 640 | same label | accuracy at 640 | accuracy at 320 |")
    print("|---|---|---|---|---|---|")
    for side in (100, 130, 200):
        q = quality(full, small, test.images[pick], test.labels[pick], side)
        print(f"| {side} px | {q['used']} | {q['fallback']} | {q['agree']:.1%} | {q['full']:.1%} | {q['small']:.1%} |")


if __name__ == "__main__":
    main()
