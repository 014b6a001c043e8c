"""Several datasets in one run: their names, and how each epoch draws its images from them by share.

A run may train on FER2013, RAF-DB's ``train/`` and a folder of one's own at once, and validate on
each of their validation splits plus sets it never trains on (CK+48). Each is named once
(``NAME=KIND:PATH``, or ``KIND:PATH`` named after its kind or folder), and that name labels its
scores in the history, the report, ``metrics.json`` and the registry.

How much of each epoch a source makes up is its *share*. :func:`mixture_order` draws an epoch as
long as all sources together, each source filling its share by walking through seeded
permutations of its own images: a source with a larger share than its size repeats its images
(each once per pass, never twice in a pass before the others), one with a smaller share sees all of
its images over several epochs. The order depends only on the seed and the epoch, so a resumed run
sees the batches it would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emodet.errors import ConfigError


@dataclass(frozen=True)
class NamedSource:
    name: str
    spec: str  # KIND:PATH[,PATH], as emodet.data.sources.parse_source reads it


def named_source(text: str) -> NamedSource:
    """``NAME=KIND:PATH`` or ``KIND:PATH``; unnamed sources are named after their kind (``fer2013``)
    or, for folders, after the folder (``folder:~/data/rafdb-framed`` is ``rafdb-framed``)."""
    text = str(text).strip()
    name, sep, spec = text.partition("=")
    if sep and ":" not in name and name.strip():
        return NamedSource(name.strip(), spec.strip())
    kind, _, rest = text.partition(":")
    if kind == "folder" and rest.strip():
        return NamedSource(Path(rest.strip().rstrip("/")).name, text)
    return NamedSource(kind or text, text)


def unique_names(sources: list[NamedSource]) -> list[NamedSource]:
    """``sources`` with repeated names made distinct (``fer2013``, ``fer2013-2``), so scores never mix."""
    seen: dict[str, int] = {}
    named = []
    for source in sources:
        seen[source.name] = seen.get(source.name, 0) + 1
        count = seen[source.name]
        named.append(source if count == 1 else NamedSource(f"{source.name}-{count}", source.spec))
    return named


def check_shares(shares, sources: int) -> np.ndarray:
    """``shares`` (one per training source, positive) normalised to sum to 1."""
    shares = np.asarray(shares, dtype=np.float64)
    if len(shares) != sources or np.any(shares <= 0) or not np.all(np.isfinite(shares)):
        raise ConfigError(f"data.shares must give one positive share per training source ({sources}: data.source "
                          f"then each of data.sources), got {list(shares)}; leave it empty to draw in proportion "
                          "to the sources' sizes")
    return shares / shares.sum()


def mixture_order(origin: np.ndarray, shares, epoch: int, seed: int) -> np.ndarray:
    """One epoch's order of image indices: ``len(origin)`` images, source ``s`` (``origin == s``)
    making up ``shares[s]`` of them (see the module docstring)."""
    origin = np.asarray(origin)
    total = len(origin)
    shares = check_shares(shares, len(shares))
    quotas = np.floor(shares * total).astype(int)
    quotas[np.argmax(shares)] += total - quotas.sum()  # rounding goes to the largest share
    picks = []
    for s, quota in enumerate(quotas):
        members = np.flatnonzero(origin == s)
        if len(members) == 0 or quota == 0:
            continue
        positions = np.arange(epoch * quota, (epoch + 1) * quota)
        passes, within = np.divmod(positions, len(members))
        for p in np.unique(passes):
            order = np.random.default_rng([seed, s, int(p)]).permutation(len(members))
            picks.append(members[order[within[passes == p]]])
    chosen = np.concatenate(picks) if picks else np.arange(0)
    return chosen[np.random.default_rng([seed, epoch]).permutation(len(chosen))]
