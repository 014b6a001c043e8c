"""Face tracks good enough for timelines: emodet's tracker against the `trackers` library's ByteTrack and SORT.

Scenes are made of real FER2013 faces (tests/face_scenes.py) whose identity and box are known at every
frame: people who walk across each other (the later one drawn over the earlier), leave the frame and
come back, or move fast. YuNet finds the faces once per scene; every tracker then gets the same boxes
and scores, frame by frame, at stride 1 and 2 (every other frame: twice the motion between calls).

Per tracker: IDF1 (the share of faces given the identity that best matches their person, over the
whole scene), identity switches (a person's id changing from one frame to the next), fragments (ids
beyond one per person), coverage (faces given any id) and the median milliseconds of one update.

    python benchmarks/tracking.py [--repeats 5]

Needs the shared data (FER2013 at ../shared or $EMODET_SHARED), the face detector files, SciPy, and
`pip install --no-deps trackers` (with supervision) for the library's trackers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from face_scenes import Actor, confident_face, linear_path, write_scene  # noqa: E402

FPS = 25.0
FRAMES = 200


def scenes(faces: dict[str, np.ndarray]) -> dict[str, list[Actor]]:
    """Three situations that break trackers; each person has a face (and expression) of their own (in
    "fast", five crossings by three faces: each crossing is a person of its own)."""
    a, b, c = faces["happy"], faces["neutral"], faces["surprise"]

    def back_and_forth(frame):  # walks out on the right at frame 80, comes back at 120
        if 80 <= frame < 120:
            return None
        return (100 + 6 * frame, 140) if frame < 80 else (640 - 6 * (frame - 120), 140)

    return {
        "crossing": [Actor([(0, a)], linear_path((80, 250), (560, 250), 0, FRAMES - 1), side=120),
                     Actor([(0, b)], linear_path((560, 240), (80, 240), 0, FRAMES - 1), side=120),
                     Actor([(0, c)], linear_path((300, 90), (360, 90), 0, FRAMES - 1), side=100)],
        "leave and return": [Actor([(0, a)], back_and_forth, side=120),
                             Actor([(0, b)], linear_path((320, 350), (330, 350), 0, FRAMES - 1), side=120),
                             Actor([(0, c)], linear_path((-60, 330), (150, 330), 60, FRAMES - 1), side=100)],
        "fast": [Actor([(0, a)], linear_path((60, 100), (580, 380), 0, 19), side=120),  # 30 px a frame
                 Actor([(0, b)], linear_path((580, 100), (60, 380), 40, 59), side=120),
                 Actor([(0, c)], linear_path((60, 240), (580, 240), 80, 94), side=110),  # 37 px a frame
                 Actor([(0, a)], linear_path((580, 380), (60, 100), 120, 139), side=120),
                 Actor([(0, b)], linear_path((60, 380), (580, 100), 160, 179), side=120)],
    }


def detect(video: Path, detector) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per frame: YuNet's boxes (N, 4: x, y, w, h) and scores."""
    from emodet.inference.video import FrameReader

    found = []
    for frame in FrameReader(str(video)):
        faces = detector.detect(frame.rgb)
        found.append((np.array([f.box for f in faces], float).reshape(-1, 4), np.array([f.score for f in faces])))
    return found


class EmodetTracker:
    name = "emodet FaceTracker"

    def __init__(self, fps: float):
        from emodet.inference.tracking import FaceTracker

        self.tracker = FaceTracker(smoothing=0.0)

    def update(self, boxes, scores) -> np.ndarray:
        ids, _ = self.tracker.update(boxes, np.zeros((len(boxes), 1), np.float32))
        return np.array(ids, int)


class LibraryTracker:
    """A tracker of the `trackers` package, fed supervision Detections; ids in the input's order."""

    def __init__(self, kind: str, fps: float):
        import supervision as sv
        import trackers

        self.sv = sv
        self.name = f"trackers {kind}"
        self.tracker = getattr(trackers, kind)(frame_rate=fps)

    def update(self, boxes, scores) -> np.ndarray:
        xyxy = np.c_[boxes[:, :2], boxes[:, :2] + boxes[:, 2:]] if len(boxes) else np.zeros((0, 4))
        detections = self.sv.Detections(xyxy=xyxy.astype(np.float32), confidence=scores.astype(np.float32),
                                        class_id=np.zeros(len(boxes), int))
        tracked = self.tracker.update(detections)
        ids = np.full(len(boxes), -1)
        if len(tracked):
            from emodet.inference.tracking import iou_matrix

            out = tracked.xyxy
            overlap = iou_matrix(boxes, np.c_[out[:, :2], out[:, 2:] - out[:, :2]])
            for row in range(len(boxes)):
                col = int(np.argmax(overlap[row]))
                if overlap[row, col] > 0.5:
                    ids[row] = tracked.tracker_id[col]
        return ids


def run(tracker, found, stride: int) -> tuple[list[np.ndarray], list[float]]:
    ids, times = [], []
    for boxes, scores in found[::stride]:
        started = time.perf_counter()
        ids.append(tracker.update(boxes, scores))
        times.append(1000 * (time.perf_counter() - started))
    return ids, times


def score(truth, found, ids, stride: int) -> dict:
    """IDF1, identity switches, fragments and coverage of ``ids`` against the scene's truth."""
    from scipy.optimize import linear_sum_assignment

    from emodet.inference.tracking import iou_matrix

    pairs, shown = [], 0  # (person, id) of every true face found and given an id
    for (boxes, _), people, frame_ids in zip(found[::stride], truth[::stride], ids):
        shown += len(people)
        if not len(boxes) or not people:
            continue
        overlap = iou_matrix(np.array([box for _, box in people], float), boxes)
        for row, (person, _) in enumerate(people):
            col = int(np.argmax(overlap[row]))
            if overlap[row, col] >= 0.5 and frame_ids[col] >= 0:
                pairs.append((person, int(frame_ids[col])))
    people = sorted({p for p, _ in pairs})
    labels = sorted({i for _, i in pairs})
    counts = np.zeros((len(people), len(labels)))
    for person, label in pairs:
        counts[people.index(person), labels.index(label)] += 1
    rows, cols = linear_sum_assignment(-counts)
    given = sum(int(np.sum(frame_ids >= 0)) for frame_ids in ids)
    switches = 0
    for person in people:
        sequence = [label for p, label in pairs if p == person]
        switches += sum(1 for x, y in zip(sequence, sequence[1:]) if x != y)
    return {"idf1": 2 * counts[rows, cols].sum() / max(shown + given, 1), "switches": switches,
            "fragments": sum(len({i for p, i in pairs if p == person}) - 1 for person in people),
            "coverage": len(pairs) / max(shown, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timing runs per tracker (the median is shown)")
    args = parser.parse_args()
    from emodet import EmotionDetector
    from emodet.data import load_split

    shared = Path(__import__("os").environ.get("EMODET_SHARED", REPO.parent / "shared"))
    test = load_split(f"fer2013:{shared / 'data/fer2013/fer2013.csv.gz'}", "test")
    detector = EmotionDetector(detector="yunet")
    faces = {c: confident_face(detector, test.images, test.labels, c) for c in ("happy", "neutral", "surprise")}
    makers = [lambda: EmodetTracker(FPS)]
    try:
        import trackers  # noqa: F401

        makers += [lambda k=kind: LibraryTracker(k, FPS) for kind in ("ByteTrackTracker", "SORTTracker")]
    except ImportError:
        print("(the trackers package is not installed: pip install --no-deps trackers; only emodet's is measured)")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, actors in scenes(faces).items():
            video = Path(folder) / "scene.mp4"
            truth = write_scene(video, actors, FRAMES, fps=FPS)
            found = detect(video, detector.face_detector)
            for stride in (1, 2):
                for make in makers:
                    runs = [run(make(), found, stride) for _ in range(args.repeats)]
                    ids, _ = runs[0]
                    ms = float(np.median([np.median(times) for _, times in runs]))
                    rows.append((name, stride, make().name, score(truth, found, ids, stride), ms))
    print(f"\n{FRAMES} frames at {FPS:g} fps per scene, 640x480, faces found by YuNet; median of {args.repeats} runs\n")
    print("| scene | stride | tracker | IDF1 | id switches | fragments | coverage | ms per update |")
    print("|---|---|---|---|---|---|---|---|")
    for name, stride, tracker, s, ms in rows:
        print(f"| {name} | {stride} | {tracker} | {s['idf1']:.3f} | {s['switches']} | {s['fragments']} | "
              f"{s['coverage']:.1%} | {ms:.3f} |")


if __name__ == "__main__":
    main()
