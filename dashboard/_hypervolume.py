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

__all__ = ["to_losses", "reference_point", "hypervolume", "hypervolume_history"]

# The reference point sits this fraction of the observed range beyond the worst
# value of each objective, so extreme Pareto points still add volume
# (the usual choice in pymoo/BoTorch-style reporting).
REFERENCE_MARGIN = 0.1


def to_losses(values: np.ndarray, directions: list[str]) -> np.ndarray:
    """Values flipped so that every objective is minimised."""
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return np.asarray(values, dtype=float) * signs


def reference_point(losses: np.ndarray) -> np.ndarray:
    """Worst observed loss per objective plus a 10% margin of the observed range."""
    losses = np.asarray(losses, dtype=float)
    worst, best = losses.max(axis=0), losses.min(axis=0)
    span = worst - best
    span = np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
    return worst + REFERENCE_MARGIN * span


def hypervolume(losses: np.ndarray, reference: np.ndarray) -> float:
    """Exact volume dominated by ``losses`` (n × k, minimised) up to ``reference``."""
    points = np.asarray(losses, dtype=float)
    points = points[np.all(points < reference, axis=1)] if len(points) else points
    if len(points) == 0:
        return 0.0
    return float(_volume(points, np.asarray(reference, dtype=float)))


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


def _volume(points: np.ndarray, reference: np.ndarray) -> float:
    if points.shape[1] == 1:
        return float(reference[0] - points[:, 0].min())
    if points.shape[1] == 2:
        order = np.argsort(points[:, 0], kind="stable")
        xs, ys = points[order, 0], points[order, 1]
        best_y = np.minimum.accumulate(ys)
        # Each step spans from its x to the next x, at the best y seen so far.
        widths = np.diff(np.append(xs, reference[0]))
        return float(np.sum(widths * (reference[1] - best_y)))
    # Slice along the last objective: between consecutive levels the dominated
    # region is the (k-1)-volume of every point at or below that level.
    order = np.argsort(points[:, -1], kind="stable")
    points = points[order]
    levels = np.append(points[:, -1], reference[-1])
    total = 0.0
    for i in range(len(points)):
        depth = levels[i + 1] - levels[i]
        if depth > 0:
            total += depth * _volume(points[: i + 1, :-1], reference[:-1])
    return total
