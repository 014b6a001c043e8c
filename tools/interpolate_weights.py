"""Average emodet models in weight space: a weighted mean of their parameters, one model of the same size.

    python tools/interpolate_weights.py OUT.keras 0.7=run4.keras 0.3=run2.keras   # WiSE-FT between two runs
    python tools/interpolate_weights.py OUT.keras run3.keras run4.keras           # a uniform "soup"

Models fine-tuned from one starting model often stay in one basin of the loss, where the mean of
their weights works as a model and can keep what each learned (Wortsman et al. 2022: "Robust
fine-tuning of zero-shot models", "Model soups"). Unlike an ensemble it costs one forward pass. Every
model must have the architecture of the first (same weights, same shapes), whose settings (input
size, colour) the result keeps; BatchNorm's moving statistics are averaged like the rest. Score the result with ``benchmarks/rank_candidates.py``, the
one selection rule: the weights are a candidate like an epoch.
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


def interpolate(models: list, weights: list[float], names: list[str]):
    """The first of ``models`` holding the weighted mean of all their weights (integer ones: the first's)."""
    arrays = [model.get_weights() for model in models]
    for name, own in zip(names[1:], arrays[1:]):
        if [a.shape for a in own] != [a.shape for a in arrays[0]]:
            sys.exit(f"error: {name} does not have the architecture of {names[0]}; "
                     "average only models of one network (one backbone, input size and head)")
    mean = [first if first.dtype.kind != "f" else sum(w * own[i] for w, own in zip(weights, arrays))
            for i, first in enumerate(arrays[0])]
    models[0].set_weights(mean)
    return models[0]


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

    try:
        models = [load_model(path) for path in paths]
    except EmodetError as error:  # missing, not a model file, or not one emodet can read: said with its name
        sys.exit(f"error: {error}")
    model = interpolate(models, weights, [str(path) for path in paths])
    model.save(args.output)
    print(f"{args.output}: " + " + ".join(f"{w:.3g} x {p}" for w, p in zip(weights, paths)))


if __name__ == "__main__":
    main()
