"""Regularized evolution (Real et al. 2019, "Aging Evolution") as an Optuna sampler.

Until ``population_size`` trials have completed, architectures are drawn at
random. Then each new trial takes the youngest ``population_size`` completed
trials as the population (older ones have "aged out"), runs a tournament over
``sample_size`` of them, and mutates one choice of the winner. With several
objectives the tournament winner is the one with the lowest non-dominated rank
in the sample, ties broken at random.

Everything the sampler needs is read back from the study, so a restarted
search resumes with the same population.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from nas.dominance import non_dominated_rank
from nas.samplers._mutation import mutate, pick_other_once
from nas.samplers._registry import register_sampler
from nas.store import study_trials

__all__ = ["RegularizedEvolutionSampler", "non_dominated_rank"]


class RegularizedEvolutionSampler(BaseSampler):
    """Tournament selection, one-choice mutation, age-based removal."""

    def __init__(
        self, population_size: int = 20, sample_size: int = 5, seed: int | None = None
    ) -> None:
        if population_size < 2 or not 1 <= sample_size <= population_size:
            raise ValueError("need population_size >= 2 and 1 <= sample_size <= population_size")
        self.population_size = population_size
        self.sample_size = sample_size
        self._rng = np.random.RandomState(seed)
        self._random = RandomSampler(seed=seed)

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._random.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        completed = study_trials(study, (TrialState.COMPLETE,))
        if len(completed) < self.population_size:
            return {}
        return dict(completed[-1].distributions)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        completed = study_trials(study, (TrialState.COMPLETE,))
        population = sorted(completed, key=lambda t: t.number)[-self.population_size :]
        picks = self._rng.choice(len(population), self.sample_size, replace=False)
        contestants = [population[i] for i in picks]
        parent = self._tournament_winner(study.directions, contestants)
        child = {n: parent.params[n] for n in search_space if n in parent.params}
        mutable = [n for n, d in search_space.items() if not _is_fixed(d)]
        if mutable:
            name = mutable[self._rng.randint(len(mutable))]
            child[name] = _mutate(self._rng, search_space[name], child.get(name))
        return child

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def _tournament_winner(
        self, directions: Sequence[StudyDirection], contestants: list[FrozenTrial]
    ) -> FrozenTrial:
        signs = np.array([1.0 if d == StudyDirection.MINIMIZE else -1.0 for d in directions])
        losses = np.array([t.values for t in contestants], dtype=float) * signs
        ranks = non_dominated_rank(losses)
        best = np.flatnonzero(ranks == ranks.min())
        if len(directions) == 1:
            best = best[:1] if len(best) == 1 else best
        return contestants[int(best[self._rng.randint(len(best))])]


def _is_fixed(dist: BaseDistribution) -> bool:
    return dist.single()


def _mutate(rng: np.random.RandomState, dist: BaseDistribution, current: Any) -> Any:
    """:func:`nas.samplers._mutation.mutate` with one draw among the other values."""

    def draw_float(low: float, high: float, log: bool) -> float:
        if log:
            return float(np.exp(rng.uniform(np.log(low), np.log(high))))
        return float(rng.uniform(low, high))

    return mutate(dist, current, pick_other_once(rng.randint), draw_float)


@register_sampler("evolution", multi_objective=True)
def evolution_sampler(
    *,
    seed: int | None,
    space: Any,
    directions: list[str],
    population_size: int = 20,
    sample_size: int = 5,
) -> optuna.samplers.BaseSampler:
    """Regularized (aging) evolution (Real et al. 2019): tournament + one-choice mutation."""
    return RegularizedEvolutionSampler(population_size, sample_size, seed)
