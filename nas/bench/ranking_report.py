"""What judges a supernet's ranking beside its tau (issue 21, "Supernets that earn their place").

A tau means little alone: :func:`flop_counts` gives the second free ranking
(FLOPs, beside parameter count), :func:`half_seed_kendall` how far a reference
made of several standalone seeds agrees with another such reference, and
:func:`above` the verdicts ``nas bench supernet`` writes: whether the
supernet's whole 95% interval lies above a baseline's tau, and whether scoring
is at least :data:`MIN_SPEEDUP` times faster than one standalone training.

>>> above(0.41, 0.35), above(float("nan"), 0.35), yes_no(above(0.30, 0.35))
(True, None, 'no')
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from nas.metrics import count_flops

__all__ = ["MIN_REFERENCE_AGREEMENT", "MIN_SPEEDUP", "flop_counts", "half_seed_kendall", "reused_seeds", "above", "yes_no"]

#: issue 21: scoring must be at least this many times faster than one standalone training
MIN_SPEEDUP = 50.0
#: issue 21's bar for a reference: two independent means of standalone seeds agree at
#: Kendall tau >= 0.8; below it, the reference ranks noise and no supernet tau against it means much
MIN_REFERENCE_AGREEMENT = 0.8


def flop_counts(space: Any, task: Any, archs: list[Any], *, seed: int = 0) -> list[int]:
    """Each arch's forward FLOPs on one training example (a graph task: the whole graph).

    One example suffices: FLOPs grow linearly with the batch, so the ranking is the same.
    ``task`` must be prepared; the models run where its data is.
    """
    batch = task.example_batch(1, seed)
    device = batch.inputs[0].device
    return [count_flops(space.build(arch, task.spec).to(device), batch) for arch in archs]


def half_seed_kendall(per_seed: list[list[float]]) -> float:
    """Tau between the mean of the first half of the seeds and the mean of the other half.

    Seed 0 vs seed 1 says how one training agrees with another; the reference is a
    mean of several, so issue 21 asks how such a mean agrees with another. Needs 3
    or more seeds (an odd count puts the extra seed in the second half); fewer: nan.
    """
    from scipy.stats import kendalltau

    if len(per_seed) < 3:
        return float("nan")
    half = len(per_seed) // 2
    first, second = np.mean(per_seed[:half], axis=0), np.mean(per_seed[half:], axis=0)
    return float(kendalltau(first, second).statistic)


def reused_seeds(folder: Path, archs: list[Any]) -> list[list[float]]:
    """Per-seed standalone scores of ``archs`` from an earlier run's ``standalone.csv``.

    A run that reuses another's standalone scores then reports their self-agreement
    too; ``[]`` when that run wrote no such file or lacks one of ``archs``.
    """
    path = folder / "standalone.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        rows = {row.pop("arch_key"): row for row in csv.DictReader(handle)}
    if not archs or any(a.key not in rows for a in archs):
        return []
    seeds = sorted(rows[archs[0].key], key=lambda name: int(name.removeprefix("seed")))
    return [[float(rows[a.key][name]) for a in archs] for name in seeds]


def above(value: float, baseline: float, *, or_equal: bool = False) -> bool | None:
    """``value > baseline`` (``>=`` with ``or_equal``); None when either is nan.

    None is "nothing to compare" (no standalone time on a table; a tau of
    constant parameter counts), which a report must not print as a failure.
    """
    if np.isnan(value) or np.isnan(baseline):
        return None
    return bool(value >= baseline if or_equal else value > baseline)


def yes_no(verdict: bool | None) -> str:
    """A verdict as ``summary.csv`` and the printed report write it."""
    return "n/a" if verdict is None else "yes" if verdict else "no"
