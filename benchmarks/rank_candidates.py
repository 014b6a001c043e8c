"""Rank candidate models by the one selection rule over every validation set.

    python benchmarks/rank_candidates.py bundled ~/runs/NAME/best.keras [--rafdb ~/data/rafdb-framed] [--tta flip]
    python benchmarks/rank_candidates.py bundled --final   # the test sets, once, for the model already chosen

The rule is :mod:`emodet.evaluation.selection` (mean macro-F1 over the sets, the worst class recall
on any set at least 30%), the same that chooses a training run's epoch and that ``emodet compare``
prints. Validation sets: FER2013 PublicTest; RAF-DB's validation part (``val/`` of the folder
``tools/frame_faces.py`` writes, faces framed as the pipeline frames them); CK+48's validation
split by subject (seed 42, 10%, as a run with ``data.validation: [ckplus=folder:...]`` splits it).
``--final`` scores the test sets instead (FER2013 PrivateTest, RAF-DB ``test/``, CK+48's test
subjects): choose nothing on them. Prints the ranking and each set's per-class recalls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from candidates import evaluate_candidate  # noqa: E402

from emodet.data import load_split  # noqa: E402
from emodet.evaluation.selection import explain, format_table, set_scores  # noqa: E402

SHARED = Path(os.environ.get("EMODET_SHARED", Path(__file__).resolve().parents[2] / "shared"))
RAFDB_FRAMED = Path.home() / "data" / "rafdb-framed"
SEED, VAL_FRACTION = 42, 0.1  # RunConfig's defaults: the split a run makes of a folder without val/


def evaluation_sets(rafdb: Path, final: bool) -> dict:
    """The validation sets by name (or the test sets with ``final``), at 48 px as stored."""
    split = "test" if final else "val"
    sets = {"fer2013": load_split(f"fer2013:{SHARED / 'data' / 'fer2013' / 'fer2013.csv.gz'}", split)}
    if not (rafdb / split).is_dir():
        sys.exit(f"error: {rafdb} has no {split}/ folder; write it with "
                 f"python tools/frame_faces.py {SHARED / 'data' / 'rafdb'} {rafdb}")
    sets["rafdb"] = load_split(f"folder:{rafdb}", split, image_size=48)
    sets["ckplus"] = load_split(f"folder:{SHARED / 'data' / 'ckplus48'}", split, image_size=48, seed=SEED,
                                val_fraction=VAL_FRACTION, test_fraction=VAL_FRACTION)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="bundled, a .keras/.onnx/.tflite path, or A+B")
    parser.add_argument("--rafdb", type=Path, default=RAFDB_FRAMED, help="RAF-DB framed by tools/frame_faces.py")
    parser.add_argument("--final", action="store_true", help="score the test sets (once, after the choice)")
    parser.add_argument("--tta", choices=("flip", "crops"), help="average over test-time augmentation views")
    parser.add_argument("--json", type=Path, help="write every candidate's per-set scores to this file")
    args = parser.parse_args()
    sets = evaluation_sets(args.rafdb, args.final)
    candidates = {}
    for name in args.models:
        reports = {set_name: evaluate_candidate(name, data, args.tta) for set_name, data in sets.items()}
        candidates[name] = {n: set_scores(r.y_true, r.y_pred, r.class_names) for n, r in reports.items()}
    kind = "test sets (final)" if args.final else "validation sets"
    print(f"{kind}: " + ", ".join(f"{n} {len(d)} faces" for n, d in sets.items())
          + (f"; TTA {args.tta}" if args.tta else ""))
    print(format_table(candidates))
    for name, scores in candidates.items():
        print(f"\n{name}: {explain(scores)}")
        for set_name, s in scores.items():
            print(f"  {set_name:<8} " + " ".join(f"{c[:8]} {r:.2f}" for c, r in s.recalls.items()))
    if args.json:
        args.json.write_text(json.dumps({n: {s: v.to_dict() for s, v in c.items()} for n, c in candidates.items()},
                                        indent=1))


if __name__ == "__main__":
    main()
