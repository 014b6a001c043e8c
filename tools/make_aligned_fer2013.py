"""FER2013 faces as the deployed pipeline sees them: pasted into frames, detected, aligned, cropped.

    python tools/make_aligned_fer2013.py OUT_DIR [--workers 2] [--limit N]

The bundled model learned FER2013's own framing, but ``emodet detect`` hands it faces placed by
the detector's landmarks on ``FER2013_TEMPLATE``; the two differ by a few percent of scale and
offset per face (docs/MODEL_CARD.md, pipeline fidelity). This writes every Training face (and
PublicTest, as the validation split) after a round trip through that pipeline: upscaled 1.5-6x
with a random interpolation, pasted at a random place into a frame of random texture and
brightness, JPEG-compressed at a random quality, then found by YuNet (the detection overlapping
the pasted face) and aligned to 48x48 as ``emodet detect`` does. Faces the detector misses keep
their original crop.

The result is a class-folder dataset (``OUT_DIR/train/<class>/*.png``, ``OUT_DIR/val/...``) for
``emodet retrain --data OUT_DIR``. It is made from FER2013: keep it outside the repository. Seeded:
reruns give the same images. PrivateTest is never touched.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from pipeline_fidelity import SHARED, iou, seed_detector_cache  # noqa: E402

FRAME = (480, 640)
INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_LANCZOS4, cv2.INTER_NEAREST)


def varied_frame(face: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``face`` (48x48 gray) pasted into a frame unlike the benchmark's (varied scale, texture, codec),
    and where it was pasted."""
    side = int(rng.uniform(1.5, 6.0) * face.shape[0])
    coarse = rng.normal(0, 1, (int(rng.integers(3, 24)), int(rng.integers(4, 32)))).astype(np.float32)
    texture = cv2.resize(coarse, FRAME[::-1], interpolation=cv2.INTER_CUBIC)
    frame = np.clip(rng.uniform(40, 210) + rng.uniform(5, 60) * texture, 0, 255).astype(np.uint8)
    x, y = int(rng.integers(0, FRAME[1] - side)), int(rng.integers(0, FRAME[0] - side))
    frame[y:y + side, x:x + side] = cv2.resize(face, (side, side), interpolation=int(rng.choice(INTERPOLATIONS)))
    quality = int(rng.integers(50, 96))
    frame = cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB), (x, y, side, side)


def _work(job) -> tuple[int, int]:
    """Crop the faces of one chunk and write them; returns (written, missed by the detector)."""
    images, labels, indices, out_dir, class_names, seed = job
    cv2.setNumThreads(1)
    from emodet.inference.align import align_face
    from emodet.inference.detectors import create_detector

    detector = create_detector("yunet")
    rng = np.random.default_rng(seed)
    missed = 0
    for face, label, index in zip(images, labels, indices):
        frame, box = varied_frame(face, rng)
        found = max(detector.detect(frame), key=lambda f: iou(f.box, box), default=None)
        if found is None or iou(found.box, box) < 0.3:  # missed, or only a false detection elsewhere
            missed += 1
            aligned = face
        else:
            aligned = cv2.cvtColor(align_face(frame, found, 48), cv2.COLOR_RGB2GRAY)
        cv2.imwrite(str(Path(out_dir) / class_names[label] / f"{index:05d}.png"), aligned)
    return len(indices), missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="only the first N faces of each split (for a try)")
    parser.add_argument("--data", default=f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}")
    args = parser.parse_args()
    seed_detector_cache()
    from emodet.data import load_split

    for split, seed in (("train", 1), ("val", 2)):
        data = load_split(args.data, split)
        count = min(args.limit or len(data), len(data))
        for name in data.class_names:
            (args.out_dir / split / name).mkdir(parents=True, exist_ok=True)
        labels = np.asarray(data.labels[:count])
        chunks = np.array_split(np.arange(count), max(1, args.workers) * 8)
        jobs = [(data.images[c, ..., 0], labels[c], c, args.out_dir / split, data.class_names, seed * 1000 + k)
                for k, c in enumerate(chunks) if len(c)]
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            done = list(pool.imap_unordered(_work, jobs))
        written, missed = (sum(column) for column in zip(*done))
        print(f"{split}: {written} faces written to {args.out_dir / split}, {missed} missed by the detector "
              "(kept as the original crop)")


if __name__ == "__main__":
    main()
