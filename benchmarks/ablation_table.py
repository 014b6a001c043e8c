"""The capacity ablation table from finished run folders: what each variant reached on every
validation set in its time budget, scored by the one selection rule.

    python benchmarks/ablation_table.py ~/runs/ablation/*/

Reads each run's config.yaml (backbone, input size, colour, starting weights), state.json (epochs
and seconds trained) and metrics.json (the best epoch's validation sets and its selection score,
:mod:`emodet.evaluation.selection`); prints one Markdown row per run, best score first. The runs'
own validation sets are used as they were scored during training (RAF-DB at the run's input size).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml


def row(run: Path) -> tuple[float, str]:
    config = yaml.safe_load((run / "config.yaml").read_text())
    state = json.loads((run / "state.json").read_text())
    selection = json.loads((run / "metrics.json").read_text())["selection"]
    model = config["model"]
    start = Path(str(model["weights"])).name if model["weights"] not in ("imagenet", "none", None) else model["weights"]
    sets = " | ".join(f"{100 * s['accuracy']:.1f}% / {s['macro_f1']:.3f} / {100 * s['worst_recall']:.0f}% "
                      f"{s['worst_class']}" for s in selection["sets"].values())
    cells = (f"| {run.name} | {model['backbone']} | {model['image_size']} | {model['color_mode']} | {start} | "
             f"{state['epoch']} | {state['stage_seconds'] / 60:.0f} | {sets} | {selection['score']:.3f} |")
    return selection["score"], cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    rows = sorted((row(run) for run in args.runs if (run / "metrics.json").is_file()), reverse=True)
    names = json.loads((next(r for r in args.runs if (r / "metrics.json").is_file()) / "metrics.json")
                       .read_text())["selection"]["sets"]
    per_set = " | ".join(f"{name}: accuracy / macro-F1 / worst recall" for name in names)
    print(f"| run | backbone | px | colour | from | epochs | minutes | {per_set} | score |")
    print("|" + "---|" * (8 + len(names)))
    for _, cells in rows:
        print(cells)


if __name__ == "__main__":
    main()
