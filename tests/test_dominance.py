"""Hypervolume: exact values, and the per-trial record every multi-objective search stores."""

from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest

from nas.config import parse_study
from nas.hypervolume import (
    REFERENCE_ATTR,
    default_reference,
    hypervolume,
    hypervolume_contributions,
    to_losses,
)
from nas.search import run


def test_known_volumes_in_two_and_three_dimensions():
    assert hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([3.0, 3.0])) == 3.0
    # A dominated point, a duplicate and a point beyond the reference add nothing.
    extra = np.array([[1.0, 2.0], [2.0, 1.0], [2.5, 2.5], [2.0, 1.0], [0.5, 4.0]])
    assert hypervolume(extra, np.array([3.0, 3.0])) == 3.0
    cube = np.array([[0.0, 0.0, 0.0]])
    assert hypervolume(cube, np.array([2.0, 2.0, 2.0])) == 8.0
    two = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert hypervolume(two, np.array([2.0, 2.0, 2.0])) == pytest.approx(2 + 4 - 1)  # union of two boxes


def test_volume_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    points = rng.random((12, 3))
    samples = rng.random((200_000, 3))
    dominated = np.zeros(len(samples), dtype=bool)
    for p in points:
        dominated |= np.all(samples >= p, axis=1)
    assert hypervolume(points, np.ones(3)) == pytest.approx(dominated.mean(), abs=0.01)


def test_contributions_and_reference():
    front = np.array([[1.0, 2.0], [2.0, 1.0]])
    gains = hypervolume_contributions(front, np.array([[1.5, 1.5], [3.0, 3.0]]), np.array([3.0, 3.0]))
    assert gains.tolist() == [0.25, 0.0]
    losses = to_losses([[93.0, 5.0]], ["maximize", "minimize"])
    assert losses.tolist() == [[-93.0, 5.0]]
    assert default_reference(losses[0]).tolist() == [0.0, 10.0]


def test_every_multi_objective_trial_stores_the_hypervolume_so_far(data_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    config = parse_study({
        "name": "mo", "seed": 0, "storage": url, "device": "cpu",
        "space": {"name": "nb201"}, "task": {"name": "nb201-cifar10", "data_dir": str(data_dir)},
        "objectives": [{"metric": "val_accuracy", "direction": "maximize"},
                       {"metric": "edgegpu_latency", "direction": "minimize"}],
        "sampler": {"name": "random"}, "evaluator": {"name": "tabular"},
        "budget": {"n_trials": 8},
    })
    run(config, progress=False)
    study = optuna.load_study(study_name="mo", storage=url)
    reference = np.array(study.user_attrs[REFERENCE_ATTR])
    trials = sorted(study.trials, key=lambda t: t.number)
    stored = [t.user_attrs["hypervolume"] for t in trials]
    assert all(b >= a for a, b in itertools.pairwise(stored)) and stored[-1] > 0
    losses = to_losses([t.values for t in trials], study.directions)
    assert stored[-1] == pytest.approx(hypervolume(losses, reference))
