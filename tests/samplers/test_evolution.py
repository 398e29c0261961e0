"""Regularized evolution: random until the population fills, then one-choice mutations."""

import numpy as np
import optuna
import pytest

from nas.samplers.evolution import RegularizedEvolutionSampler, non_dominated_rank

CHOICES = {f"c{i}": ["a", "b", "c", "d"] for i in range(6)}


def objective(trial: optuna.Trial) -> float:
    params = {n: trial.suggest_categorical(n, v) for n, v in CHOICES.items()}
    return float(sum(v == "d" for v in params.values()))


def run(seed: int, n: int, population: int = 10) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=RegularizedEvolutionSampler(population_size=population, sample_size=3, seed=seed),
    )
    study.optimize(objective, n_trials=n)
    return study


def test_children_differ_from_a_population_member_in_exactly_one_choice():
    study = run(seed=0, n=40)
    trials = study.trials
    for child in trials[10:]:
        population = trials[child.number - 10 : child.number]
        distances = [
            sum(child.params[n] != p.params[n] for n in CHOICES) for p in population
        ]
        assert 1 in distances, f"trial {child.number} is not a one-choice mutant"


def test_evolution_improves_over_its_random_start():
    study = run(seed=1, n=80)
    values = [t.value for t in study.trials]
    assert np.mean(values[-20:]) > np.mean(values[:10]) + 1.0


def test_same_seed_same_proposals_and_different_seed_differs():
    first = [t.params for t in run(seed=5, n=25).trials]
    again = [t.params for t in run(seed=5, n=25).trials]
    other = [t.params for t in run(seed=6, n=25).trials]
    assert first == again and first != other


def test_non_dominated_rank_on_a_known_front():
    losses = np.array([[1, 4], [2, 2], [4, 1], [3, 3], [5, 5]], dtype=float)
    assert non_dominated_rank(losses).tolist() == [0, 0, 0, 1, 2]


def test_rejects_impossible_sizes():
    with pytest.raises(ValueError):
        RegularizedEvolutionSampler(population_size=5, sample_size=6)
