"""The dashboard's hypervolume against Optuna's own implementation, and its history over trials."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna._hypervolume import compute_hypervolume

from dashboard._hypervolume import hypervolume, hypervolume_history, reference_point, to_losses


@st.composite
def _point_sets(draw):  # type: ignore[no-untyped-def]
    k = draw(st.integers(2, 4))
    n = draw(st.integers(1, 25))
    rows = draw(st.lists(st.lists(st.integers(0, 9), min_size=k, max_size=k),
                         min_size=n, max_size=n))
    return np.array(rows, dtype=float)


@settings(max_examples=150, deadline=None)
@given(_point_sets())
def test_matches_optuna(losses):
    reference = losses.max(axis=0) + 1.0
    assert hypervolume(losses, reference) == pytest.approx(
        compute_hypervolume(losses, reference), rel=1e-9, abs=1e-9)


def test_points_beyond_the_reference_add_nothing():
    reference = np.array([4.0, 4.0])
    inside = np.array([[1.0, 2.0], [2.0, 1.0]])
    beyond = np.vstack([inside, [[0.0, 5.0], [5.0, 0.0]]])
    assert hypervolume(beyond, reference) == hypervolume(inside, reference) == 8.0


def test_history_grows_to_the_volume_of_all_trials():
    rng = np.random.default_rng(0)
    losses = rng.random((500, 3))
    reference = reference_point(losses)
    positions, volumes = hypervolume_history(losses, reference, max_points=50)
    assert positions[0] == 0 and positions[-1] == 499 and len(positions) == 50
    assert (np.diff(volumes) >= -1e-12).all()
    assert volumes[-1] == pytest.approx(compute_hypervolume(losses, reference))
    assert volumes[10] == pytest.approx(
        compute_hypervolume(losses[: positions[10] + 1], reference))


def test_reference_lies_beyond_the_worst_value_of_each_objective():
    values = np.array([[90.0, 1e6], [70.0, 2e5], [10.0, 5e4]])  # accuracy up, params down
    losses = to_losses(values, ["maximize", "minimize"])
    reference = reference_point(losses)
    assert (reference > losses.max(axis=0)).all()
    assert reference[0] == pytest.approx(-10.0 + 0.1 * 80.0)  # 10 % of the range past the worst
