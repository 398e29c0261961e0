"""A study's hypervolume box and its normalised hypervolume: one computation for every page.

The Study page's curve, its caption and the Compare page's table all call
:func:`study_box` and :func:`normalised_curve`, so one study shows one number
everywhere. The box is the one the search stored (``nas.dominance``); a study
whose search stored none (or an older, raw reference) gets the same rule
applied to its first complete trial, and its trials' recorded values are not
shown beside the curve (they were measured in another box).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from dashboard._data import StudyData
from dashboard._units import format_value
from nas.dominance import (
    IDEAL_ATTR,
    REFERENCE_ATTR,
    floors_of,
    hypervolume_box,
    hypervolume_history,
    normalise,
    to_losses,
)
from nas.units import is_accuracy

__all__ = ["EXPLANATION", "Box", "study_box", "normalised_curve", "final_hypervolume"]

EXPLANATION = ("Hypervolume: the share of the box between the ideal (best possible value of each "
               "objective) and the reference point that the Pareto front dominates; 0 = no model "
               "inside the box, 1 = one model at the ideal on every objective.")


@dataclass(frozen=True)
class Box:
    """The hypervolume box of a study, as losses (every objective minimised)."""

    objectives: tuple[str, ...]
    directions: tuple[str, ...]
    ideal: np.ndarray
    reference: np.ndarray
    recorded: bool  # the search stored this box (and each trial's value in it)

    def values(self, losses: np.ndarray) -> np.ndarray:
        """Losses back as objective values."""
        return to_losses(losses, self.directions)

    def floors(self, objectives: list[str] | None = None) -> list[float | None]:
        """The accuracy floor of each objective (the box's worst accuracy), ``None`` for others."""
        reference = dict(zip(self.objectives, self.values(self.reference)[0]))
        return [float(reference[o]) if is_accuracy(o) and reference[o] > 0 else None
                for o in (objectives or list(self.objectives))]

    def describe(self) -> str:
        """``val_accuracy 100.0% → 10.00%, params 0 M → 0.87 M``: each objective, ideal to reference."""
        ideal, reference = self.values(self.ideal)[0], self.values(self.reference)[0]
        return ", ".join(f"{o} {format_value(o, i)} → {format_value(o, r)}"
                         for o, i, r in zip(self.objectives, ideal, reference))


def study_box(data: StudyData) -> Box | None:
    """The study's box (stored, else by the same rule); ``None`` with no complete trial."""
    objectives, directions = tuple(data.objectives), tuple(data.directions)
    reference, ideal = data.info.get(REFERENCE_ATTR), data.info.get(IDEAL_ATTR)
    if _fits(reference, objectives) and _fits(ideal, objectives):
        return Box(objectives, directions, np.asarray(ideal, dtype=float),
                   np.asarray(reference, dtype=float), recorded=True)
    complete = data.complete
    if complete.empty:
        return None
    first = complete.sort_values("number").iloc[0]
    ideal, reference = hypervolume_box([float(first[o]) for o in objectives], directions,
                                       objectives, floors_of(objectives, directions, data.info))
    return Box(objectives, directions, ideal, reference, recorded=False)


def normalised_curve(data: StudyData, box: Box) -> tuple[np.ndarray, np.ndarray]:
    """``(trial numbers, normalised hypervolume after each)`` over the complete trials.

    Cached per study state and box, so live refresh and page switches cost nothing.
    """
    return _curve(data.name, data.fingerprint, tuple(box.ideal), tuple(box.reference), data, box)


@st.cache_data(show_spinner=False, max_entries=32)
def _curve(name: str, fingerprint: tuple[object, ...], ideal: tuple[float, ...],
           reference: tuple[float, ...], _data: StudyData, _box: Box) -> tuple[np.ndarray, np.ndarray]:
    data, box = _data, _box
    complete = data.complete.sort_values("number")
    losses = normalise(to_losses(complete[list(box.objectives)].to_numpy(), box.directions),
                       box.ideal, box.reference)
    positions, volumes = hypervolume_history(losses, np.ones(len(box.objectives)))
    return complete.number.to_numpy()[positions], volumes


def final_hypervolume(data: StudyData) -> float:
    """The study's normalised hypervolume now (NaN without a complete trial)."""
    box = study_box(data)
    if box is None:
        return float("nan")
    _, volumes = normalised_curve(data, box)
    return float(volumes[-1]) if len(volumes) else float("nan")


def recorded_values(data: StudyData, box: Box) -> pd.Series | None:
    """Each trial's own record of the hypervolume, when the search stored it in this box."""
    complete = data.complete
    if not box.recorded or "hypervolume" not in complete:
        return None
    return complete.set_index("number")["hypervolume"].sort_index()


def _fits(value: object, objectives: tuple[str, ...]) -> bool:
    return isinstance(value, list) and len(value) == len(objectives)
