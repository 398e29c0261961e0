"""Hypervolume of a multi-objective study, recorded per trial (Zitzler & Thiele 1998).

The hypervolume is the volume dominated by the Pareto front and bounded by a
reference point; it grows whenever a search finds a better trade-off. Every
multi-objective trial stores the hypervolume of the study *including itself*
in user attr ``hypervolume`` (the dashboard plots it), against one reference
point kept in the study user attr ``hypervolume_reference`` so that the
curve is comparable from the first trial to the last.

The reference point is fixed when the first trial completes: each objective's
value worsened by its own magnitude (an accuracy of 93 maximised gives 0, a
latency of 5 ms minimised gives 10 ms), or by 1 where the value is 0. Points
beyond it add no volume.

>>> hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([3.0, 3.0]))
3.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "to_losses",
    "hypervolume",
    "hypervolume_contributions",
    "default_reference",
    "hypervolume_after",
    "HYPERVOLUME_ATTR",
    "REFERENCE_ATTR",
]

HYPERVOLUME_ATTR = "hypervolume"
REFERENCE_ATTR = "hypervolume_reference"


def to_losses(values: Any, directions: Sequence[Any]) -> np.ndarray:
    """``values`` (n × k) flipped so every objective is minimised.

    ``directions`` are ``"maximize"``/``"minimize"`` strings or Optuna ``StudyDirection``s.
    """
    signs = np.array([-1.0 if _maximized(d) else 1.0 for d in directions])
    return np.asarray(values, dtype=float).reshape(-1, len(signs)) * signs


def hypervolume(losses: np.ndarray, reference: np.ndarray) -> float:
    """Exact volume dominated by ``losses`` (n × k, minimised) up to ``reference``."""
    points = np.asarray(losses, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if points.size == 0:
        return 0.0
    points = points[np.all(np.isfinite(points), axis=1) & np.all(points < reference, axis=1)]
    if len(points) == 0:
        return 0.0
    return float(_volume(_front(points), reference))


def hypervolume_contributions(
    front: np.ndarray, candidates: np.ndarray, reference: np.ndarray
) -> np.ndarray:
    """Hypervolume each candidate row would add to ``front`` on its own (all minimised)."""
    reference = np.asarray(reference, dtype=float)
    front = np.asarray(front, dtype=float).reshape(-1, len(reference))
    candidates = np.asarray(candidates, dtype=float).reshape(-1, len(reference))
    front = front[np.all(front < reference, axis=1)]
    if len(front):
        front = _front(front)
    base = hypervolume(front, reference)
    gains = np.zeros(len(candidates))
    # Only a candidate inside the box and not weakly dominated by the front adds volume.
    useful = np.all(candidates < reference, axis=1)
    if len(front):
        useful &= ~np.any(np.all(front[None, :, :] <= candidates[:, None, :], axis=2), axis=1)
    if len(reference) == 2:
        return _contributions_2d(front, candidates, useful, reference, gains)
    for i in np.flatnonzero(useful):
        gains[i] = hypervolume(np.vstack([front, candidates[i][None, :]]), reference) - base
    return gains


def _contributions_2d(
    front: np.ndarray, candidates: np.ndarray, useful: np.ndarray, reference: np.ndarray,
    gains: np.ndarray,
) -> np.ndarray:
    """Exclusive area of each useful candidate: its box minus the front's area inside the box."""
    for i in np.flatnonzero(useful):
        corner = candidates[i]
        area = float(np.prod(reference - corner))
        if len(front):
            clipped = np.maximum(front, corner)  # each front box cut to the candidate's box
            order = np.argsort(clipped[:, 0], kind="stable")
            xs, best_y = clipped[order, 0], np.minimum.accumulate(clipped[order, 1])
            widths = np.diff(np.append(xs, reference[0]))
            area -= float(np.sum(widths * (reference[1] - best_y)))
        gains[i] = area
    return gains


def default_reference(losses: np.ndarray) -> np.ndarray:
    """Each loss worsened by its own magnitude (1 where it is 0): see the module docstring."""
    losses = np.asarray(losses, dtype=float)
    return losses + np.where(losses == 0, 1.0, np.abs(losses))


def hypervolume_after(study: Any, values: Sequence[float]) -> float | None:
    """The study's hypervolume once a trial with ``values`` completes (``None`` for one objective).

    The worker stores it in that trial's attr :data:`HYPERVOLUME_ATTR`, in the same
    transaction as the trial's other results; the first call fixes the study's reference.
    """
    from optuna.trial import TrialState

    directions = study.directions
    if len(directions) < 2:
        return None
    losses = to_losses([values], directions)
    reference = study.user_attrs.get(REFERENCE_ATTR)
    if reference is None:
        reference = default_reference(losses[0]).tolist()
        study.set_user_attr(REFERENCE_ATTR, reference)
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if done:
        losses = np.vstack([to_losses([t.values for t in done], directions), losses])
    return hypervolume(losses, np.asarray(reference, dtype=float))


def _maximized(direction: Any) -> bool:
    return str(getattr(direction, "name", direction)).lower() == "maximize"


def _front(points: np.ndarray) -> np.ndarray:
    """The non-dominated rows, duplicates kept once (the store's Pareto mask on minimised losses)."""
    from nas.store import pareto_mask

    points = np.unique(points, axis=0)
    return points[pareto_mask(points, ["minimize"] * points.shape[1])]


def _volume(points: np.ndarray, reference: np.ndarray) -> float:
    if points.shape[1] == 1:
        return float(reference[0] - points[:, 0].min())
    if points.shape[1] == 2:
        order = np.argsort(points[:, 0], kind="stable")
        xs, ys = points[order, 0], points[order, 1]
        best_y = np.minimum.accumulate(ys)
        widths = np.diff(np.append(xs, reference[0]))
        return float(np.sum(widths * (reference[1] - best_y)))
    # Slice along the last objective (HSO, While et al. 2006).
    order = np.argsort(points[:, -1], kind="stable")
    points = points[order]
    levels = np.append(points[:, -1], reference[-1])
    total = 0.0
    for i in range(len(points)):
        depth = levels[i + 1] - levels[i]
        if depth > 0:
            total += depth * _volume(points[: i + 1, :-1], reference[:-1])
    return total
