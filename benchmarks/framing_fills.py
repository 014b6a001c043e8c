"""What a model trained on framed RAF-DB faces learned from the framing itself.

    python benchmarks/framing_fills.py [--model bundled] [--rafdb ~/data/rafdb-framed]

RAF-DB's photos are tight: the template ``tools/frame_faces.py`` aligns them onto reaches beyond
the photo. The tool finds each face on a grey canvas and cuts its crop from a canvas with the
photo's edges repeated (:func:`frame_faces.on_canvas`). This redoes that for every validation face
three ways, changing one fill at a time, and scores the model on each against the framed crops it
was validated on (accuracy, and how often it gives the same class):

- the tool's way (grey to detect, repeated edges to cut): the framed crops again, a check;
- grey to cut as well: the model's answer where the pixels beyond the photo change;
- repeated edges to detect as well: where the landmarks YuNet finds change.

A model that relied on faces alone would score the same three ways (docs/MODEL_CARD.md, pipeline
fidelity).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from frame_faces import on_canvas  # noqa: E402
from pipeline_fidelity import iou, rafdb_original, seed_detector_cache  # noqa: E402

from emodet import EmotionDetector  # noqa: E402
from emodet.data import load_split  # noqa: E402
from emodet.data.classmatch import match_classes  # noqa: E402
from emodet.inference.align import align_face  # noqa: E402

#: (fill of the canvas the face is found on, fill of the canvas its crop is cut from), by name.
WAYS = {"the tool's: detect on grey, cut from repeated edges": (cv2.BORDER_CONSTANT, cv2.BORDER_REPLICATE),
        "cut from grey": (cv2.BORDER_CONSTANT, cv2.BORDER_CONSTANT),
        "detect on repeated edges": (cv2.BORDER_REPLICATE, cv2.BORDER_REPLICATE)}
CROP = 96  # the framed crops' side (tools/frame_faces.py --size)


def crops(detector, photo: np.ndarray, size: int) -> dict[str, np.ndarray] | None:
    """The face of ``photo`` framed each of the WAYS (None if one of them finds no face)."""
    framed = {}
    for way, (find_fill, cut_fill) in WAYS.items():
        canvas, box = on_canvas(photo, find_fill)
        face = max(detector.detect(canvas), key=lambda f: iou(f.box, box), default=None)
        if face is None or iou(face.box, box) < 0.3:
            return None
        cut, _ = on_canvas(photo, cut_fill)
        framed[way] = cv2.resize(align_face(cut, face, CROP), (size, size), interpolation=cv2.INTER_AREA)
    return framed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled", help="bundled, or a .keras/.onnx/.tflite file")
    parser.add_argument("--rafdb", type=Path, default=Path.home() / "data" / "rafdb-framed",
                        help="RAF-DB framed by tools/frame_faces.py")
    args = parser.parse_args()
    seed_detector_cache()
    detector = EmotionDetector(None if args.model == "bundled" else args.model)
    classifier = detector.classifier
    size = classifier.image_size  # the framed crops shrunk as the ways' crops are (area averaging), for every runtime
    data = match_classes(load_split(f"folder:{args.rafdb}", "val", image_size=size), classifier.class_names)
    direct = classifier.predict_images(data.images).argmax(axis=1)
    kept, framed = [], {way: [] for way in WAYS}
    for i, source in enumerate(data.ids):
        found = crops(detector.face_detector, rafdb_original(source, "val"), size)
        if found is not None:
            kept.append(i)
            for way, crop in found.items():
                framed[way].append(crop)
    kept = np.array(kept)
    truth = data.labels[kept]
    print(f"model {args.model}; {len(kept)} of {len(data)} RAF-DB validation faces found all three ways; "
          f"framed crops as validated: accuracy {np.mean(direct[kept] == truth):.4f}")
    print(f"{'framed':<54} {'accuracy':>8} {'same class':>10}")
    for way, faces in framed.items():
        predicted = classifier.predict(np.stack(faces)).argmax(axis=1)
        print(f"{way:<54} {np.mean(predicted == truth):8.4f} {np.mean(predicted == direct[kept]):10.4f}")


if __name__ == "__main__":
    main()
