"""Hypervolume with numpy: the reference point, the exact volume and its history over trials.

The hypervolume indicator (Zitzler & Thiele 1998) is the volume dominated by
a front and bounded by a reference point; it grows whenever the search finds
a better trade-off, so its curve over trials shows progress of a
multi-objective search in one line. Volumes are exact: a sweep in two
dimensions, slicing along the last objective above that (HSO, While et al.
2006), which is plenty for the fronts a NAS study produces (tens of points).
"""

from __future__ import annotations

import numpy as np

# The search records each trial's hypervolume with these (numpy only, no torch): the
# dashboard's curves must be the same computation.
from nas.hypervolume import hypervolume, to_losses

__all__ = ["to_losses", "reference_point", "hypervolume", "hypervolume_history"]

# The reference point sits this fraction of the observed range beyond the worst
# value of each objective, so extreme Pareto points still add volume
# (the usual choice in pymoo/BoTorch-style reporting).
REFERENCE_MARGIN = 0.1


def reference_point(losses: np.ndarray) -> np.ndarray:
    """Worst observed loss per objective plus a 10% margin of the observed range."""
    losses = np.asarray(losses, dtype=float)
    worst, best = losses.max(axis=0), losses.min(axis=0)
    span = worst - best
    span = np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
    return worst + REFERENCE_MARGIN * span


def hypervolume_history(
    losses: np.ndarray, reference: np.ndarray, max_points: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """``(trial positions, hypervolume after each)`` at up to ``max_points`` evenly spaced positions.

    ``losses`` are in trial order; the front is kept incrementally so each
    checkpoint only measures the current non-dominated set.
    """
    losses = np.asarray(losses, dtype=float)
    n = len(losses)
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros(0)
    checkpoints = np.unique(np.linspace(0, n - 1, num=min(n, max_points)).round().astype(int))
    front = np.empty((0, losses.shape[1]))
    volumes = []
    start = 0
    for stop in checkpoints:
        for row in losses[start:stop + 1]:
            if not np.all(np.isfinite(row)):
                continue
            if len(front) and np.any(np.all(front <= row, axis=1)):
                continue  # dominated (or equal): the volume does not change
            front = np.vstack([front[~np.all(row <= front, axis=1)], row])
        start = stop + 1
        volumes.append(hypervolume(front, reference))
    return checkpoints, np.array(volumes)
