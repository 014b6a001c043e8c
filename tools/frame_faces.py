"""An aligned face dataset (RAF-DB) re-framed the way ``emodet detect`` frames faces.

    python tools/frame_faces.py SRC_DIR OUT_DIR [--size 96] [--val-fraction 0.1] [--seed 42] [--workers 2]
        [--fill replicate|mixed|smooth]

RAF-DB's faces are aligned by the dataset's own landmarks, at another framing than FER2013's crops
and than the pipeline's (``FER2013_TEMPLATE``), so a model trained on them as they are would see
faces at one framing in training and another in use. Each face here goes through the deployed path:
centred on a grey canvas three times its side, found by YuNet (the detection overlapping it), and
aligned onto the template by :func:`emodet.inference.align.align_face`, exactly as in ``emodet
detect``, from the same canvas with the image's edges repeated instead of grey (see
:func:`on_canvas`). The few faces YuNet misses are cut by the measured mapping instead: the median of the
landmarks found on the others (the dataset's own alignment puts every face at about the same place).

SRC_DIR holds ``train/<class>/*`` and ``test/<class>/*`` (RAF-DB basic's layout, its class names).
OUT_DIR gets ``train/``, ``val/`` (a seeded, stratified ``--val-fraction`` of ``train/``; byte-identical
files kept on one side) and ``test/``, PNG crops of ``--size`` pixels (colour kept), and
``framing.json`` (counts, misses, the median mapping). It is made from RAF-DB, whose terms forbid
redistribution: keep it outside the repository (for example under ``~/data``).

What lies beyond the photo is not a face, and a model learns whatever fills it (a model trained on
edge-repeated crops loses 3 points when that band is grey: benchmarks/framing_fills.py).
``--fill mixed`` fills it, for the ``train/`` faces only, with the repeated edges or a flat grey of
a random level, half and half (seeded by the file name); ``--fill smooth`` blurs the repeated edges
of that half instead; ``val/`` and ``test/`` keep the repeated edges, so that validation scores
stay comparable with models trained on the default framing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from pipeline_fidelity import GREY, iou, seed_detector_cache  # noqa: E402

CANVAS = 3  # canvas side / face side: the detector sees the face with room around it, as in a photo
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def on_canvas(face_rgb: np.ndarray, fill: int = cv2.BORDER_CONSTANT) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``face_rgb`` centred on a canvas ``CANVAS`` times its size, and where it was put.

    The detector looks at the face on grey (``BORDER_CONSTANT``), as on a photo's plain background:
    it finds 96% of RAF-DB's faces there, against 80% when the image is continued by reflection (the
    mirrored copies confuse it). The crop is then cut from the canvas with the image's edge pixels
    repeated (``BORDER_REPLICATE``, as the pipeline does for faces at a frame's border): the template's
    framing reaches beyond RAF-DB's tight crops (forehead, cheeks, chin), and a flat grey band there
    would be a mark a model learns to expect around every wild face, while a reflection adds mirrored
    chins and mouths (both looked at on the framed faces). The repeated edges are learned too (measured:
    benchmarks/framing_fills.py); ``--fill mixed`` varies them in training (:func:`cut_canvas`)."""
    h, w = face_rgb.shape[:2]
    y, x = h * (CANVAS - 1) // 2, w * (CANVAS - 1) // 2
    canvas = cv2.copyMakeBorder(face_rgb, y, y, x, x, fill, value=(GREY, GREY, GREY))
    return canvas, (x, y, w, h)


def cut_canvas(face_rgb: np.ndarray, destination: str, fill: str) -> np.ndarray:
    """The canvas a face's crop is cut from: the photo's edges repeated, or, for a ``train/``
    destination and half of the faces (seeded by the name), with ``fill`` "mixed" a flat grey of a
    random level, with "smooth" the repeated edges blurred (no streaks; the photo itself kept sharp)."""
    canvas, (x, y, w, h) = on_canvas(face_rgb, cv2.BORDER_REPLICATE)
    draw = int(hashlib.sha256(Path(destination).name.encode()).hexdigest()[:8], 16)
    if fill == "replicate" or Path(destination).parts[-3] != "train" or not draw % 2:
        return canvas
    if fill == "mixed":
        level = 40 + (draw >> 1) % 181  # 40-220
        return cv2.copyMakeBorder(face_rgb, y, y, x, x, cv2.BORDER_CONSTANT, value=(level, level, level))
    smooth = cv2.GaussianBlur(canvas, (0, 0), sigmaX=max(w, h) / 8)
    smooth[y:y + h, x:x + w] = face_rgb
    return smooth


def _frame_chunk(job) -> tuple[list[list[float]], list[tuple[str, str]]]:
    """Frame one chunk of (source, destination) files; returns the found faces' landmarks in units of
    the face image's side (for the median mapping) and the pairs the detector missed."""
    pairs, size, fill = job
    cv2.setNumThreads(1)
    from emodet.imageio import read_image
    from emodet.inference.align import align_face
    from emodet.inference.detectors import create_detector

    detector = create_detector("yunet")
    found, missed = [], []
    for source, destination in pairs:
        rgb = read_image(source)
        canvas, box = on_canvas(rgb)
        face = max(detector.detect(canvas), key=lambda f: iou(f.box, box), default=None)
        if face is None or face.landmarks is None or iou(face.box, box) < 0.3:
            missed.append((source, destination))
            continue
        canvas = cut_canvas(rgb, destination, fill)
        relative = (np.asarray(face.landmarks) - box[:2]) / box[2]
        found.append([*((np.asarray(face.box[:2]) - box[:2]) / box[2]), face.box[2] / box[2],
                      face.box[3] / box[2], *relative.ravel()])
        _write(destination, align_face(canvas, face, size))
    return found, missed


def _frame_missed(missed: list[tuple[str, str]], median: np.ndarray, size: int, fill: str) -> None:
    """Cut the faces the detector missed with the median face found on the others."""
    from emodet.imageio import read_image
    from emodet.inference.align import align_face
    from emodet.inference.detectors import DetectedFace

    for source, destination in missed:
        rgb = read_image(source)
        _, (x, y, side, _) = on_canvas(rgb)
        canvas = cut_canvas(rgb, destination, fill)
        box = (x + median[0] * side, y + median[1] * side, median[2] * side, median[3] * side)
        landmarks = median[4:].reshape(5, 2) * side + (x, y)
        face = DetectedFace(box=box, score=0.0, landmarks=landmarks.astype(np.float32))
        _write(destination, align_face(canvas, face, size))


def _write(destination: str, rgb: np.ndarray) -> None:
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(destination, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def plan(src: Path, out: Path, val_fraction: float, seed: int) -> list[tuple[str, str]]:
    """(source file, destination file) for every image: ``test/`` as it is, ``train/`` split into
    train and val, stratified by class and seeded; byte-identical files fall on the same side."""
    pairs = []
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for class_dir in sorted(p for p in (src / split).iterdir() if p.is_dir()):
            files = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if split == "test":
                pairs += [(str(p), str(out / "test" / class_dir.name / f"{p.stem}.png")) for p in files]
                continue
            groups: dict[str, list[Path]] = {}
            for path in files:
                groups.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(path)
            keys = list(groups)
            held = set(rng.choice(len(keys), size=round(val_fraction * len(keys)), replace=False).tolist())
            for k, key in enumerate(keys):
                name = "val" if k in held else "train"
                pairs += [(str(p), str(out / name / class_dir.name / f"{p.stem}.png")) for p in groups[key]]
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--size", type=int, default=96, help="crop side in pixels (models resize it to theirs)")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fill", choices=("replicate", "mixed", "smooth"), default="replicate",
                        help="beyond the photo: its edges repeated, or (train/ only) half of the faces on flat grey "
                             "(mixed) or on the repeated edges blurred (smooth)")
    args = parser.parse_args()
    for split in ("train", "test"):
        if not (args.src_dir / split).is_dir():
            sys.exit(f"error: {args.src_dir} has no {split}/ folder; expected SRC_DIR/train/<class>/ and "
                     "SRC_DIR/test/<class>/ (RAF-DB basic's layout)")
    seed_detector_cache()
    pairs = plan(args.src_dir, args.out_dir, args.val_fraction, args.seed)
    chunks = [(pairs[k::args.workers * 8], args.size, args.fill) for k in range(args.workers * 8)]
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        done = pool.map(_frame_chunk, chunks)
    found = np.array([row for rows, _ in done for row in rows])
    missed = [pair for _, rows in done for pair in rows]
    median = np.median(found, axis=0)
    _frame_missed(missed, median, args.size, args.fill)
    counts = {split: sum(1 for _, d in pairs if Path(d).parts[-3] == split) for split in ("train", "val", "test")}
    summary = {"source": str(args.src_dir), "size": args.size, "images": counts, "found_by_yunet": len(found),
               "missed": [s for s, _ in missed], "median_face_in_source_units": median.round(4).tolist(),
               "val_fraction": args.val_fraction, "seed": args.seed, "fill": args.fill}
    (args.out_dir / "framing.json").write_text(json.dumps(summary, indent=2))
    print(f"{len(pairs)} faces framed into {args.out_dir} ({counts}); YuNet found {len(found)}, "
          f"{len(missed)} cut by the median mapping")


if __name__ == "__main__":
    main()
