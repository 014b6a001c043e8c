"""Does the deployed path (detect -> align -> classify) see faces as the accuracy numbers do?

    python benchmarks/pipeline_fidelity.py [--model bundled] [--detector yunet] [--n N] [--margin M]
        [--alignment template|box] [--rotate DEGREES] [--rafdb FRAMED_DIR] [--split val|test]

FER2013 PublicTest faces are upscaled (bicubic, 2-5x) and pasted at random sizes and positions
into 640x480 frames of textured grey. Each frame goes through :class:`emodet.EmotionDetector`;
the detection overlapping the pasted face (IoU >= 0.3) counts as found. On found faces, the
pipeline's predictions are compared with feeding the same 48x48 faces to the classifier
directly, with the gap's standard error (paired over the same faces): by default all 3,589
faces, since on 600 that error is about as large as a 0.5-point goal. Also printed: where the
detector puts its box relative to the FER2013 frame (side ratio and centre offset), which is what
the crop margin must undo. Seeded: reruns give the same frames. PublicTest is the validation
split, so this may be used to choose settings. ``--split test`` measures FER2013 PrivateTest (or
RAF-DB's ``test/``) instead: a report on the test set of a model already chosen, never a choice.

``--rafdb FRAMED_DIR`` does the same for RAF-DB's validation faces (the ``val/`` part that
``tools/frame_faces.py`` wrote): the direct crops are the framed faces a model trains and is
scored on, and the frames hold RAF-DB's original 100 px colour photos (found beside the shared
copy by file name), pasted at 1-2.4x (100-240 px, as the FER2013 faces), so the gap measures what
the framing tool and the deployed path disagree on. RAF-DB's photos are tight: the template the
pipeline aligns to reaches beyond them, where the framing tool repeated the photo's edges and the
frame here holds texture. ``--context replicate`` pastes each photo with its edges repeated around
it (a third of its side each way), as the framing tool cut it; ``--context grey`` on plain grey, as
the framing tool's detector saw it. Comparing the three runs tells what the surroundings cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emodet import EmotionDetector  # noqa: E402
from emodet.data import load_split  # noqa: E402
from emodet.data.classmatch import match_classes  # noqa: E402

SHARED = Path(os.environ.get("EMODET_SHARED", Path(__file__).resolve().parents[2] / "shared"))
FRAME = (480, 640)
#: With ``--context replicate`` or ``grey``: the surroundings, this fraction of the face's side each way.
SURROUNDING = 1 / 3
GREY = 128  # the grey of --context grey and of tools/frame_faces.py's canvas (which imports it)


def seed_detector_cache() -> None:
    """Let yunet/blazeface load offline: an empty EMODET_CACHE gets the shared copies."""
    if os.environ.get("EMODET_CACHE"):
        return
    cache = Path(tempfile.mkdtemp(prefix="emodet-cache-"))
    for path in (SHARED / "face").glob("*.*"):
        if path.suffix in (".onnx", ".tflite"):
            shutil.copy(path, cache / path.name)
    os.environ["EMODET_CACHE"] = str(cache)


def make_frame(face: np.ndarray, rng: np.random.Generator, rotate: float = 0.0,
               scale: tuple[float, float] = (2.0, 5.0),
               context: str = "frame") -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """``face`` (48x48 gray, or an RGB face) enlarged by ``scale`` times, turned by up to ``rotate``
    degrees either way (in-plane head tilt, edges reflected), and pasted into a textured frame,
    with ``context`` (not "frame") around it: its edges repeated ("replicate") or plain grey ("grey"),
    SURROUNDING times its side each way; returns the RGB frame and the face's box."""
    side = int(rng.uniform(*scale) * face.shape[0])
    if context != "frame":
        pad = int(round(SURROUNDING * face.shape[0]))
        fill = cv2.BORDER_REPLICATE if context == "replicate" else cv2.BORDER_CONSTANT
        face = cv2.copyMakeBorder(face, pad, pad, pad, pad, fill, value=(GREY,) * 3)
        frame, (x, y, outer, _) = make_frame(face, rng, rotate, (side / face.shape[0] * (1 + 2 * SURROUNDING),) * 2)
        inner = outer / (1 + 2 * SURROUNDING)
        return frame, (x + SURROUNDING * inner, y + SURROUNDING * inner, inner, inner)
    noise = cv2.resize(rng.normal(0, 1, (12, 16)).astype(np.float32), FRAME[::-1], interpolation=cv2.INTER_CUBIC)
    frame = np.clip(110 + 35 * noise, 0, 255).astype(np.uint8)
    if face.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    x, y = int(rng.integers(0, FRAME[1] - side)), int(rng.integers(0, FRAME[0] - side))
    patch = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    if rotate:
        turn = cv2.getRotationMatrix2D((side / 2, side / 2), float(rng.uniform(-rotate, rotate)), 1.0)
        patch = cv2.warpAffine(patch, turn, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    frame[y:y + side, x:x + side] = patch
    return (frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)), (x, y, side, side)


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled", help="bundled, or a .keras/.onnx/.tflite file")
    parser.add_argument("--detector", default="yunet")
    parser.add_argument("--n", type=int, default=0, help="faces to paste (seeded sample; default all)")
    parser.add_argument("--margin", type=float, default=None, help="crop margin (default: emodet's)")
    parser.add_argument("--alignment", default=None, help="template or box (default: emodet's)")
    parser.add_argument("--rotate", type=float, default=0.0,
                        help="turn each pasted face by up to this many degrees either way (tilted heads; the "
                             "direct crops stay upright, so the pipeline must undo the tilt)")
    parser.add_argument("--data", default=f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}")
    parser.add_argument("--rafdb", type=Path,
                        help="RAF-DB framed by tools/frame_faces.py: measure on its val/ (--split test: test/) faces")
    parser.add_argument("--split", choices=("val", "test"), default="val",
                        help="val (default; may choose settings) or test (reports a chosen model, once)")
    parser.add_argument("--scale", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="enlarge each face by a factor between LOW and HIGH (default: 2 5 for FER2013's 48 px "
                             "faces, 1 2.4 for RAF-DB's 100 px photos)")
    parser.add_argument("--context", choices=("frame", "replicate", "grey"), default="frame",
                        help="around each pasted face: the frame's texture (default), the face's own edges "
                             "repeated (as tools/frame_faces.py cuts a RAF-DB photo), or plain grey (as its "
                             "detector sees it)")
    args = parser.parse_args()
    args.scale = args.scale or ([1.0, 2.4] if args.rafdb else [2.0, 5.0])
    seed_detector_cache()

    data = load_split(f"folder:{args.rafdb}" if args.rafdb else args.data, args.split, image_size=96)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(data), size=min(args.n or len(data), len(data)), replace=False)
    detector = EmotionDetector(None if args.model == "bundled" else args.model, args.detector, margin=args.margin,
                               alignment=args.alignment)
    classifier = detector.classifier
    data = match_classes(data, classifier.class_names)  # RAF-DB's anger, happiness, ... by name
    size = classifier.image_size
    rgb = np.repeat(data.images, 3, axis=-1) if data.images.shape[-1] == 1 else data.images
    direct_faces = np.stack([cv2.resize(rgb[i], (size, size), interpolation=cv2.INTER_AREA) for i in rows])
    direct = classifier.predict(direct_faces).argmax(axis=1)

    found, piped, ratios, offsets = [], [], [], []
    for n, i in enumerate(rows):
        face = rafdb_original(data.ids[i], args.split) if args.rafdb else data.images[i, ..., 0]
        frame, box = make_frame(face, rng, args.rotate, tuple(args.scale),
                                args.context)
        faces = detector(frame).faces
        best = max(faces, key=lambda f: iou(f.box, box), default=None)
        if best is None or iou(best.box, box) < 0.3:
            continue
        found.append(n)
        piped.append(int(np.argmax(best.probs)))
        x, y, w, h = best.box
        ratios.append(max(w, h) / box[2])
        offsets.append(((x + w / 2 - box[0] - box[2] / 2) / box[2], (y + h / 2 - box[1] - box[3] / 2) / box[2]))
    found = np.array(found, dtype=int)
    _report(args, data.labels[rows], direct, found, np.array(piped), np.array(ratios), np.array(offsets))


def rafdb_original(framed_path: str, split: str) -> np.ndarray:
    """The shared RAF-DB photo a framed face was made from (same class folder and name; ``val/`` was
    cut from the shared ``train/``)."""
    from emodet.imageio import read_image

    path = Path(framed_path)
    shared_split = "test" if split == "test" else "train"
    return read_image(SHARED / "data" / "rafdb" / shared_split / path.parent.name / f"{path.stem}.jpg")


def _set_name(args) -> str:
    if args.rafdb:
        return "RAF-DB validation" if args.split == "val" else "RAF-DB test"
    return "FER2013 PublicTest" if args.split == "val" else "FER2013 PrivateTest"


def _report(args, truth, direct, found, piped, ratios, offsets) -> None:
    n = len(truth)
    direct_all = float(np.mean(direct == truth))
    direct_found = float(np.mean(direct[found] == truth[found])) if len(found) else float("nan")
    pipeline = float(np.mean(piped == truth[found])) if len(found) else float("nan")
    agree = float(np.mean(piped == direct[found])) if len(found) else float("nan")
    print(f"pipeline fidelity: model {args.model}, detector {args.detector}, margin "
          f"{'default' if args.margin is None else args.margin}, alignment {args.alignment or 'default'}; "
          f"{n} {_set_name(args)} faces enlarged "
          f"{args.scale[0]:g}-{args.scale[1]:g}x into 640x480 frames"
          + (f", turned by up to {args.rotate:g} degrees" if args.rotate else "")
          + ("" if args.context == "frame" else f", {args.context} surroundings around each face"))
    print(f"{'faces found':<34} {len(found):5d} / {n} ({len(found) / n:.1%})")
    print(f"{'accuracy, crops fed directly (all)':<34} {direct_all:.4f}")
    print(f"{'accuracy, crops fed directly (found)':<34} {direct_found:.4f}")
    print(f"{'accuracy, through the pipeline':<34} {pipeline:.4f}")
    # Paired: each found face is right or wrong both ways, so the gap's error is that of the differences.
    differences = (direct[found] == truth[found]).astype(float) - (piped == truth[found])
    error = 100 * differences.std(ddof=1) / np.sqrt(len(found)) if len(found) > 1 else float("nan")
    print(f"{'gap (direct - pipeline), points':<34} {100 * (direct_found - pipeline):+.2f} "
          f"(standard error {error:.2f})")
    print(f"{'same class both ways':<34} {agree:.4f}")
    if len(ratios):
        q = np.percentile(ratios, [25, 50, 75])
        print(f"{'detector box side / pasted side':<34} median {q[1]:.3f} (quartiles {q[0]:.3f}-{q[2]:.3f})")
        print(f"{'box centre offset / side (x, y)':<34} median {np.median(offsets[:, 0]):+.3f}, "
              f"{np.median(offsets[:, 1]):+.3f}")


if __name__ == "__main__":
    main()
