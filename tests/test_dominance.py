"""nas.dominance: Pareto masks, ranks, exact hypervolume, the normalised box, and the per-trial record."""

from __future__ import annotations

import itertools
import json

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas.config import parse_study
from nas.dominance import (
    IDEAL_ATTR,
    NUM_CLASSES_ATTR,
    REFERENCE_ATTR,
    floors_of,
    hypervolume,
    hypervolume_box,
    hypervolume_contributions,
    hypervolume_history,
    non_dominated_rank,
    normalise,
    normalised_hypervolume,
    pareto_mask,
    spread_reference,
    to_losses,
)
from nas.errors import ConfigError
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


@st.composite
def _integer_points(draw):  # type: ignore[no-untyped-def]
    k = draw(st.integers(2, 4))
    n = draw(st.integers(1, 12))
    rows = draw(st.lists(st.lists(st.integers(0, 5), min_size=k, max_size=k),
                         min_size=n, max_size=n))
    return np.array(rows, dtype=float)


@settings(max_examples=100, deadline=None)
@given(_integer_points())
def test_volume_counts_the_dominated_unit_cells(points):
    # On an integer grid the exact volume is the number of unit cells some point dominates.
    reference = np.full(points.shape[1], 6.0)
    cells = np.array(list(itertools.product(range(6), repeat=points.shape[1])), dtype=float)
    dominated = np.any(np.all(cells[:, None, :] >= points[None, :, :], axis=2), axis=1)
    assert hypervolume(points, reference) == pytest.approx(float(dominated.sum()))


def _brute_force_mask(values: np.ndarray, directions: list[str]) -> np.ndarray:
    losses = to_losses(values, directions)
    return np.array([not any(np.all(o <= r) and np.any(o < r) for o in losses) for r in losses])


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 3).flatmap(lambda k: st.tuples(
    st.lists(st.lists(st.integers(0, 5), min_size=k, max_size=k), max_size=30),
    st.lists(st.sampled_from(["minimize", "maximize"]), min_size=k, max_size=k))))
def test_pareto_mask_matches_the_definition(case):
    rows, directions = case
    values = np.array(rows, dtype=float).reshape(len(rows), len(directions))
    assert pareto_mask(values, directions).tolist() == _brute_force_mask(values, directions).tolist()


def test_a_model_at_or_below_the_floor_cannot_join_the_front():
    values = np.array([[0.05, 1.0], [0.10, 2.0], [0.5, 10.0], [0.9, 50.0]])  # accuracy, params
    directions = ["maximize", "minimize"]
    assert pareto_mask(values, directions).tolist() == [True, True, True, True]
    assert pareto_mask(values, directions, [0.1, None]).tolist() == [False, False, True, True]


def test_non_dominated_rank_on_a_known_front():
    losses = np.array([[1, 4], [2, 2], [4, 1], [3, 3], [5, 5], [2, 2]], dtype=float)
    assert non_dominated_rank(losses).tolist() == [0, 0, 0, 1, 2, 0]


def test_box_runs_from_the_ideal_to_the_floor_and_the_first_value_doubled():
    ideal, reference = hypervolume_box([0.93, 5.0], ["maximize", "minimize"],
                                       ["val_accuracy", "latency_ms"], [0.1, None])
    assert ideal.tolist() == [-1.0, 0.0] and reference.tolist() == [-0.1, 10.0]
    # Without a known floor the accuracy's reference is 0, written as 0 (not -0).
    _, reference = hypervolume_box([0.93, 5.0], ["maximize", "minimize"],
                                   ["val_accuracy", "latency_ms"])
    assert str(-reference[0]) == "-0.0" and str(reference[0]) == "0.0"
    # A metric with no known bound: its first value plus and minus its magnitude.
    ideal, reference = hypervolume_box([4.0, 0.0], ["maximize", "minimize"], ["score", "loss"])
    assert ideal.tolist() == [-8.0, -1.0] and reference.tolist() == [0.0, 1.0]


def test_normalised_hypervolume_is_the_dominated_share_of_the_box():
    ideal, reference = np.array([-1.0, 0.0]), np.array([-0.1, 10.0])
    losses = to_losses([[0.55, 5.0]], ["maximize", "minimize"])  # half-way on both
    assert normalise(losses, ideal, reference).tolist() == [[pytest.approx(0.5), 0.5]]
    assert normalised_hypervolume(losses, ideal, reference) == pytest.approx(0.25)
    assert normalised_hypervolume(to_losses([[1.0, 0.0]], ["maximize", "minimize"]),
                                  ideal, reference) == 1.0
    below_floor = to_losses([[0.05, 1.0]], ["maximize", "minimize"])
    assert normalised_hypervolume(below_floor, ideal, reference) == 0.0


def test_history_grows_to_the_volume_of_all_points():
    rng = np.random.default_rng(0)
    losses = rng.random((300, 3))
    reference = spread_reference(losses)
    positions, volumes = hypervolume_history(losses, reference, max_points=50)
    assert positions[0] == 0 and positions[-1] == 299 and len(positions) == 50
    assert (np.diff(volumes) >= -1e-12).all()
    assert volumes[-1] == pytest.approx(hypervolume(losses, reference))
    assert volumes[10] == pytest.approx(hypervolume(losses[: positions[10] + 1], reference))


def test_contributions():
    front = np.array([[1.0, 2.0], [2.0, 1.0]])
    gains = hypervolume_contributions(front, np.array([[1.5, 1.5], [3.0, 3.0]]), np.array([3.0, 3.0]))
    assert gains.tolist() == [0.25, 0.0]


def test_every_multi_objective_trial_stores_the_normalised_hypervolume_so_far(data_dir, tmp_path):
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
    assert study.user_attrs[NUM_CLASSES_ATTR] == 10  # CIFAR-10: chance level 0.1
    reference, ideal = (np.array(study.user_attrs[a]) for a in (REFERENCE_ATTR, IDEAL_ATTR))
    assert reference[0] == -0.1 and ideal[0] == -1.0
    trials = sorted((t for t in study.trials if t.values), key=lambda t: t.number)  # COMPLETE
    stored = [t.user_attrs["hypervolume"] for t in trials]
    assert all(b >= a for a, b in itertools.pairwise(stored)) and 0 < stored[-1] <= 1
    losses = to_losses([t.values for t in trials], study.directions)
    assert stored[-1] == pytest.approx(normalised_hypervolume(losses, ideal, reference))
    assert stored[3] == pytest.approx(normalised_hypervolume(losses[:4], ideal, reference))


def _config(objectives: list[dict]) -> dict:
    return {"name": "floors", "space": {"name": "nb201"}, "task": {"name": "nb201-cifar10"},
            "objectives": objectives, "sampler": {"name": "random"},
            "evaluator": {"name": "tabular"}, "budget": {"n_trials": 2}}


def test_the_accuracy_floor_is_the_chance_level_unless_the_study_file_sets_one():
    params = {"metric": "params", "direction": "minimize"}
    attrs = {NUM_CLASSES_ATTR: 10}
    for floor, expected in ((None, 0.1), (0.5, 0.5), (0, None)):
        accuracy = {"metric": "val_accuracy", "direction": "maximize"}
        if floor is not None:
            accuracy["floor"] = floor
        config = parse_study(_config([accuracy, params]))
        stored = {**attrs, "nas_config": json.loads(config.to_json())}
        assert floors_of(["val_accuracy", "params"], ["maximize", "minimize"], stored) == [
            expected, None]
    with pytest.raises(ConfigError, match=r"objectives\[1\]\.floor: only a maximised accuracy"):
        parse_study(_config([{"metric": "val_accuracy"}, {**params, "floor": 0.5}]))
    with pytest.raises(ConfigError, match=r"objectives\[0\]\.floor: 1\.5 is not allowed; allowed: "
                                          r"a fraction in \[0, 1\)"):
        parse_study(_config([{"metric": "val_accuracy", "floor": 1.5}, params]))
