"""Pareto dominance and hypervolume, with numpy only: the one place that says what "better" means.

Every part of nas that ranks trials on several objectives comes here: the
store's Pareto fronts (``nas show``, the dashboard), the samplers' non-dominated
sorting, the search's per-trial hypervolume and the benchmarks' curves. The
module imports numpy and :mod:`nas.units` only (no torch, no Optuna), so the
store and the dashboard may use it.

Hypervolume (Zitzler & Thiele 1998) is the volume a front dominates inside a
box. nas reports it **normalised to [0, 1]**: each objective is scaled so its
box runs from 0 (the *ideal*, the best value the objective can take) to 1
(the *reference*, the worst value that still counts), and the hypervolume is
the share of that box the front dominates. 1 would be one model at the ideal
on every objective; 0 means no model is inside the box.

The box is fixed once per study, when its first trial completes
(:func:`hypervolume_box`), and kept in study user attrs
:data:`REFERENCE_ATTR` / :data:`IDEAL_ATTR` (as losses, every objective
minimised), so every trial's recorded value and every page's curve use the
same box:

* an accuracy (a fraction, maximised) runs from 1 down to the *accuracy floor*:
  the study file's ``floor`` of that objective if it sets one (0: none), else
  the task's chance level ``1 / num_classes`` (study attr
  :data:`NUM_CLASSES_ATTR`); a model at or below the floor adds no volume and
  cannot join the front;
* any other objective runs from its first value improved by its own magnitude
  to its first value worsened by it (a latency of 5 ms minimised gives
  [0, 10] ms; a value of 0 gives [-1, 1]).

>>> hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([3.0, 3.0]))
3.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nas.units import is_accuracy  # pure Python, like this module: no torch, no Optuna

__all__ = [
    "HYPERVOLUME_ATTR",
    "REFERENCE_ATTR",
    "IDEAL_ATTR",
    "NUM_CLASSES_ATTR",
    "to_losses",
    "pareto_mask",
    "non_dominated_rank",
    "chance_level",
    "floors_of",
    "hypervolume",
    "hypervolume_contributions",
    "hypervolume_box",
    "normalise",
    "normalised_hypervolume",
    "hypervolume_history",
    "spread_reference",
    "hypervolume_after",
]

#: trial user attr: the study's normalised hypervolume once that trial completed
HYPERVOLUME_ATTR = "hypervolume"
#: study user attrs: the hypervolume box as losses (one per objective, minimised)
REFERENCE_ATTR = "hypervolume_reference"
IDEAL_ATTR = "hypervolume_ideal"
#: study user attr recorded at search time: the task's number of classes (its chance level)
NUM_CLASSES_ATTR = "num_classes"


def to_losses(values: Any, directions: Sequence[Any]) -> np.ndarray:
    """``values`` (n × k) flipped so every objective is minimised.

    ``directions`` are ``"maximize"``/``"minimize"`` strings or Optuna ``StudyDirection``s.
    """
    signs = np.array([-1.0 if _maximized(d) else 1.0 for d in directions])
    return np.asarray(values, dtype=float).reshape(-1, len(signs)) * signs


# -- dominance ---------------------------------------------------------------

def pareto_mask(
    values: Any, directions: Sequence[Any], floors: Sequence[float | None] | None = None
) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (n × k); equal rows are all kept.

    ``floors`` (one per objective, ``None`` for none) leave rows that do not beat
    an objective's floor off the front: e.g. a model at or below chance accuracy.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return np.zeros(len(values), dtype=bool)
    losses = to_losses(values, directions)
    admitted = _beats_floors(losses, directions, floors)
    mask = np.zeros(len(losses), dtype=bool)
    rows = np.flatnonzero(admitted)
    if len(rows):
        mask[rows] = _mask_2d(losses[rows]) if losses.shape[1] == 2 else _mask_general(losses[rows])
    return mask


def non_dominated_rank(losses: np.ndarray) -> np.ndarray:
    """Pareto rank of each row (0 = non-dominated, 1 = dominated only by rank 0, …), minimised."""
    losses = np.asarray(losses, dtype=float)
    ranks = np.full(len(losses), -1)
    remaining = np.arange(len(losses))
    rank = 0
    while remaining.size:
        front = pareto_mask(losses[remaining], ["minimize"] * losses.shape[1])
        ranks[remaining[front]] = rank
        remaining = remaining[~front]
        rank += 1
    return ranks


def chance_level(num_classes: Any) -> float | None:
    """The accuracy of guessing among ``num_classes`` classes, or ``None`` if unknown."""
    try:
        n = int(num_classes)
    except (TypeError, ValueError):
        return None
    return 1.0 / n if n >= 2 else None


def floors_of(objectives: Sequence[str], directions: Sequence[Any],
              study_attrs: Mapping[str, Any]) -> list[float | None]:
    """The floor of each objective: for a maximised accuracy, the study file's ``floor``
    (``[[objectives]] floor = 0.5``; 0 for none), else the task's chance level; else ``None``."""
    chance = chance_level(study_attrs.get(NUM_CLASSES_ATTR))
    config = study_attrs.get("nas_config")
    chosen = {o.get("metric"): o["floor"] for o in (config or {}).get("objectives", [])
              if isinstance(o, Mapping) and o.get("floor") is not None}
    floors: list[float | None] = []
    for objective, direction in zip(objectives, directions):
        floor = chosen.get(objective, chance) if is_accuracy(objective) and _maximized(direction) else None
        floors.append(float(floor) if floor else None)
    return floors


# -- hypervolume -------------------------------------------------------------

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


def hypervolume_box(
    first: Sequence[float], directions: Sequence[Any], objectives: Sequence[str],
    floors: Sequence[float | None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(ideal, reference)`` as losses, from a study's first complete trial (module docstring).

    >>> ideal, reference = hypervolume_box([0.9, 5.0], ["maximize", "minimize"],
    ...                                    ["val_accuracy", "latency_ms"], [0.1, None])
    >>> ideal.tolist(), reference.tolist()
    ([-1.0, 0.0], [-0.1, 10.0])
    """
    losses = to_losses([first], directions)[0]
    spread = np.where(losses == 0, 1.0, np.abs(losses))
    ideal, reference = losses - spread, losses + spread
    floors = list(floors) if floors is not None else [None] * len(losses)
    for i, (objective, direction) in enumerate(zip(objectives, directions)):
        if is_accuracy(objective) and _maximized(direction):
            ideal[i], reference[i] = -1.0, -(floors[i] or 0.0)
    return ideal + 0.0, reference + 0.0  # + 0.0: no "-0" in a label


def normalise(losses: np.ndarray, ideal: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Losses scaled so the box runs from 0 (ideal) to 1 (reference); better than ideal is 0."""
    ideal, reference = np.asarray(ideal, dtype=float), np.asarray(reference, dtype=float)
    span = np.where(reference > ideal, reference - ideal, 1.0)
    return np.maximum((np.asarray(losses, dtype=float) - ideal) / span, 0.0)


def normalised_hypervolume(losses: np.ndarray, ideal: np.ndarray, reference: np.ndarray) -> float:
    """The share (0 to 1) of the box ``[ideal, reference]`` that ``losses`` dominate."""
    losses = np.asarray(losses, dtype=float).reshape(-1, len(np.atleast_1d(reference)))
    return hypervolume(normalise(losses, ideal, reference), np.ones(losses.shape[1]))


def hypervolume_history(
    losses: np.ndarray, reference: np.ndarray, max_points: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """``(trial positions, hypervolume after each)`` at up to ``max_points`` evenly spaced positions.

    ``losses`` are in trial order (normalise them first for the normalised
    curve, with ``reference`` all ones); the front is kept incrementally so each
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


def spread_reference(losses: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """Worst loss per objective plus ``margin`` of its observed range (1 where the range is 0).

    For a set of points seen all at once (a sampler's candidate pool), where no
    study box exists: extreme points still add volume (pymoo/BoTorch-style).
    """
    losses = np.asarray(losses, dtype=float)
    worst, best = losses.max(axis=0), losses.min(axis=0)
    span = worst - best
    span = np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
    return worst + margin * span


def hypervolume_after(study: Any, values: Sequence[float]) -> float | None:
    """The study's normalised hypervolume once a trial with ``values`` completes.

    ``None`` for one objective. The worker stores it in that trial's attr
    :data:`HYPERVOLUME_ATTR`; the first call fixes the study's box. ``study``
    is an Optuna study (only its public ``directions``, ``user_attrs``,
    ``set_user_attr`` and ``get_trials`` are used).
    """
    directions = study.directions
    if len(directions) < 2:
        return None
    attrs = study.user_attrs
    losses = to_losses([values], directions)
    if attrs.get(REFERENCE_ATTR) is None or attrs.get(IDEAL_ATTR) is None:
        objectives = attrs.get("objectives") or [f"value_{i}" for i in range(len(directions))]
        ideal, reference = hypervolume_box(values, directions, objectives,
                                           floors_of(objectives, directions, attrs))
        study.set_user_attr(REFERENCE_ATTR, reference.tolist())
        study.set_user_attr(IDEAL_ATTR, ideal.tolist())
    else:
        ideal, reference = np.asarray(attrs[IDEAL_ATTR]), np.asarray(attrs[REFERENCE_ATTR])
    done = [t.values for t in study.get_trials(deepcopy=False)
            if t.state.name == "COMPLETE" and t.values is not None]
    if done:
        losses = np.vstack([to_losses(done, directions), losses])
    return normalised_hypervolume(losses, ideal, reference)


# -- helpers -----------------------------------------------------------------

def _maximized(direction: Any) -> bool:
    return str(getattr(direction, "name", direction)).lower() == "maximize"


def _beats_floors(losses: np.ndarray, directions: Sequence[Any],
                  floors: Sequence[float | None] | None) -> np.ndarray:
    admitted = np.ones(len(losses), dtype=bool)
    for i, floor in enumerate(floors or ()):
        if floor is not None:
            admitted &= losses[:, i] < (-floor if _maximized(directions[i]) else floor)
    return admitted


def _mask_general(losses: np.ndarray) -> np.ndarray:
    # Sort by the first objective so each point need only be compared to earlier ones.
    order = np.lexsort(losses.T[::-1])
    mask = np.zeros(len(losses), dtype=bool)
    front: list[np.ndarray] = []
    for i in order:
        row = losses[i]
        if front:
            stack = np.vstack(front)
            if np.any(np.all(stack <= row, axis=1) & np.any(stack < row, axis=1)):
                continue
            if np.any(np.all(stack == row, axis=1)):
                mask[i] = True  # ties are on the front too
                continue
        front.append(row)
        mask[i] = True
    return mask


def _mask_2d(losses: np.ndarray) -> np.ndarray:
    """Two minimised objectives in O(n log n): one sort and a running minimum.

    In lexicographic order every dominator of a point comes before it, so a
    point is dominated when an earlier one has a lower second loss, or the same
    second loss with a lower first loss (identical points do not dominate).
    """
    order = np.lexsort((losses[:, 1], losses[:, 0]))
    first, second = losses[order, 0], losses[order, 1]
    n = len(order)
    running = np.minimum.accumulate(second)
    before = np.concatenate(([np.inf], running[:-1]))
    # Position of the earliest point holding the running minimum (lowest first loss).
    holder = np.maximum.accumulate(np.where(second < before, np.arange(n), 0))
    holder_before = np.concatenate(([0], holder[:-1]))
    dominated = (before < second) | ((before == second) & (first[holder_before] < first))
    mask = np.zeros(n, dtype=bool)
    mask[order] = ~dominated
    return mask


def _front(points: np.ndarray) -> np.ndarray:
    """The non-dominated rows of minimised ``points``, duplicates kept once."""
    points = np.unique(points, axis=0)
    return points[pareto_mask(points, ["minimize"] * points.shape[1])]


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
