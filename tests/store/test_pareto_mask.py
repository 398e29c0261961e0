"""``nas.store.pareto_mask`` against the definition of dominance, ties included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nas.store import pareto_mask


def _brute_force(values: np.ndarray, directions: list[str]) -> np.ndarray:
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    losses = values * signs
    return np.array([
        not any(np.all(other <= row) and np.any(other < row) for other in losses)
        for row in losses
    ], dtype=bool)


@st.composite
def _studies(draw):  # type: ignore[no-untyped-def]
    k = draw(st.sampled_from([2, 3]))
    n = draw(st.integers(0, 40))
    # Small integer grids make ties and duplicate points common.
    values = draw(st.lists(st.lists(st.integers(0, 6), min_size=k, max_size=k),
                           min_size=n, max_size=n))
    directions = draw(st.lists(st.sampled_from(["minimize", "maximize"]), min_size=k,
                               max_size=k))
    return np.array(values, dtype=float).reshape(n, k), directions


@settings(max_examples=300, deadline=None)
@given(_studies())
def test_matches_the_definition(study):
    values, directions = study
    assert pareto_mask(values, directions).tolist() == _brute_force(values, directions).tolist()


def test_two_objectives_at_scale_match_the_general_rule():
    rng = np.random.default_rng(0)
    values = np.round(rng.random((3000, 2)) * 200)  # many ties
    fast = pareto_mask(values, ["maximize", "minimize"])
    general = pareto_mask(np.column_stack([values, np.zeros(len(values))]),
                          ["maximize", "minimize", "minimize"])
    assert fast.tolist() == general.tolist()
    assert 0 < fast.sum() < len(values)
