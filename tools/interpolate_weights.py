"""Average emodet models in weight space: a weighted mean of their parameters, one model of the same size.

    python tools/interpolate_weights.py OUT.keras 0.7=run4.keras 0.3=run2.keras   # WiSE-FT between two runs
    python tools/interpolate_weights.py OUT.keras run3.keras run4.keras           # a uniform "soup"

The mean is emodet.models.averaging's (why it works: its docstring). Every model must have the
architecture of the first, whose settings (input size, colour) the result keeps. Score the result
with ``benchmarks/rank_candidates.py``, the one selection rule: the weights are a candidate like an epoch.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_member(text: str) -> tuple[float | None, Path]:
    """``WEIGHT=PATH`` or ``PATH`` (its weight then shared equally with the others given without one)."""
    weight, sep, path = text.partition("=")
    if not sep:
        return None, Path(text)
    try:
        return float(weight), Path(path)
    except ValueError:
        sys.exit(f"error: {text!r}: expected WEIGHT=PATH with a number as WEIGHT, e.g. 0.7=run4.keras")


def member_weights(given: list[float | None]) -> list[float]:
    """The given weights, the missing ones sharing what is left of 1 equally; they must sum to 1."""
    fixed = sum(w for w in given if w is not None)
    free = given.count(None)
    weights = [w if w is not None else (1.0 - fixed) / free for w in given]
    if min(weights) < 0 or abs(sum(weights) - 1.0) > 1e-6:
        sys.exit(f"error: the weights must be non-negative and sum to 1, got {weights}")
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="the averaged model, a .keras file")
    parser.add_argument("members", nargs="+", help="[WEIGHT=]PATH of each .keras model, at least two")
    args = parser.parse_args()
    if len(args.members) < 2 or args.output.suffix != ".keras":
        sys.exit("error: give an OUT.keras file and at least two .keras models to average")
    given, paths = zip(*(parse_member(text) for text in args.members))
    weights = member_weights(list(given))
    from emodet.errors import EmodetError
    from emodet.models import load_model
    from emodet.models.averaging import average_weights

    try:  # a file missing, not a model, or of another network: said with its name
        models = [load_model(path) for path in paths]
        mean = average_weights(models, weights, [str(path) for path in paths])
    except EmodetError as error:
        sys.exit(f"error: {error}")
    models[0].set_weights(mean)
    models[0].save(args.output)
    print(f"{args.output}: " + " + ".join(f"{w:.3g} x {p}" for w, p in zip(weights, paths)))


if __name__ == "__main__":
    main()
