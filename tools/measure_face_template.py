"""Measure where a face detector's landmarks fall on FER2013 faces: the alignment template.

    python tools/measure_face_template.py [--detector yunet] [--n 1500]

FER2013 Training faces are upscaled 4x and pasted into textured frames (as in
benchmarks/pipeline_fidelity.py); the detector's eyes, nose and mouth centre are expressed in
units of the pasted 48x48 frame. The medians are emodet's ``FER2013_TEMPLATE``
(src/emodet/inference/align.py): aligning a photo's face onto them gives the classifier the
geometry of its training faces, whatever box the detector draws.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from pipeline_fidelity import SHARED, make_frame, seed_detector_cache  # noqa: E402

from emodet.data import load_split  # noqa: E402
from emodet.inference.align import template_points  # noqa: E402
from emodet.inference.detectors import create_detector  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--detector", default="yunet")
parser.add_argument("--n", type=int, default=1500)
args = parser.parse_args()
seed_detector_cache()
data = load_split(f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}", "train")
rng = np.random.default_rng(1)
detector = create_detector(args.detector)
points = []
for i in rng.choice(len(data), size=args.n, replace=False):
    frame, (x, y, side, _) = make_frame(data.images[i, ..., 0], rng)
    faces = [f for f in detector.detect(frame) if f.landmarks is not None]
    if len(faces) == 1:
        points.append((template_points(faces[0].landmarks) - (x, y)) / side)
points = np.array(points)
median = np.median(points, axis=0)
spread = np.percentile(points, 75, axis=0) - np.percentile(points, 25, axis=0)
print(f"{len(points)} of {args.n} faces with one detection; median points (x, y) in FER2013 frame units, "
      "and interquartile ranges:")
for name, m, s in zip(("eye (image left)", "eye (image right)", "nose tip", "mouth centre"), median, spread):
    print(f"  {name:<18} ({m[0]:.4f}, {m[1]:.4f})   IQR ({s[0]:.3f}, {s[1]:.3f})")
print("FER2013_TEMPLATE = np.array(" + repr(np.round(median, 4).tolist()) + ", dtype=np.float64)")
