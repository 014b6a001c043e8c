"""The capacity ablation table from finished run folders: what each variant reached on every
validation set in its time budget, scored by the one selection rule.

    python benchmarks/ablation_table.py ~/runs/ablation/*/

Reads each run's config.yaml (backbone, input size, colour, starting weights), state.json (epochs
and seconds trained) and metrics.json (the best epoch's validation sets and its selection score,
:mod:`emodet.evaluation.selection`); prints one Markdown row per run, best score first, with the
other settings in which the runs differ (``train.mixup=0.2``, ...) in its own column. The runs'
own validation sets are used as they were scored during training (RAF-DB at the run's input size).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from emodet.config import from_dict


#: Settings the table has columns for, or that name data rather than a recipe.
SHOWN = {"model.backbone", "model.image_size", "model.color_mode", "model.weights", "data.source", "data.sources",
         "data.validation", "data.ferplus_votes"}


def settings(run: Path) -> dict[str, object]:
    """The run's config as flat ``section.key`` settings, with today's defaults for settings it predates."""
    config = from_dict(yaml.safe_load((run / "config.yaml").read_text())).to_dict()
    return {f"{section}.{key}": value for section, values in config.items() for key, value in values.items()}


def differing(runs: list[Path]) -> list[str]:
    """The settings, outside the table's own columns, whose values are not the same in every run."""
    flat = [settings(run) for run in runs]
    keys = sorted({key for one in flat for key in one} - SHOWN)
    return [key for key in keys if len({repr(one.get(key)) for one in flat}) > 1]


def row(run: Path, changed: list[str]) -> tuple[float, str]:
    config = yaml.safe_load((run / "config.yaml").read_text())
    own = settings(run)
    state = json.loads((run / "state.json").read_text())
    selection = json.loads((run / "metrics.json").read_text())["selection"]
    model = config["model"]
    start = Path(str(model["weights"])).name if model["weights"] not in ("imagenet", "none", None) else model["weights"]
    sets = " | ".join(f"{100 * s['accuracy']:.1f}% / {s['macro_f1']:.3f} / {100 * s['worst_recall']:.0f}% "
                      f"{s['worst_class']}" for s in selection["sets"].values())
    other = ", ".join(f"{key}={own.get(key)}" for key in changed)
    cells = (f"| {run.name} | {model['backbone']} | {model['image_size']} | {model['color_mode']} | {start} | "
             f"{other} | {state['epoch']} | {state['stage_seconds'] / 60:.0f} | {sets} | {selection['score']:.3f} |")
    return selection["score"], cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    finished = [run for run in args.runs if (run / "metrics.json").is_file()]
    changed = differing(finished)
    rows = sorted((row(run, changed) for run in finished), reverse=True)
    names = json.loads((finished[0] / "metrics.json").read_text())["selection"]["sets"]
    per_set = " | ".join(f"{name}: accuracy / macro-F1 / worst recall" for name in names)
    print(f"| run | backbone | px | colour | from | other settings | epochs | minutes | {per_set} | score |")
    print("|" + "---|" * (9 + len(names)))
    for _, cells in rows:
        print(cells)


if __name__ == "__main__":
    main()
