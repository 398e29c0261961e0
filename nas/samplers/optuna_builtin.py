"""Optuna's built-in samplers, registered with the parameters users tune most."""

from __future__ import annotations

from typing import Any

import optuna

from nas.samplers._registry import register_sampler


@register_sampler("random", multi_objective=True)
def random_sampler(*, seed: int | None, space: Any, directions: list[str]) -> optuna.samplers.BaseSampler:
    """Uniform random search (Bergstra & Bengio 2012): the honest baseline."""
    return optuna.samplers.RandomSampler(seed=seed)


@register_sampler("tpe", multi_objective=True)
def tpe_sampler(
    *,
    seed: int | None,
    space: Any,
    directions: list[str],
    n_startup_trials: int = 10,
    multivariate: bool = True,
    constant_liar: bool = True,
) -> optuna.samplers.BaseSampler:
    """Tree-structured Parzen estimator (Bergstra et al. 2011; multivariate, Falkner 2018)."""
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=n_startup_trials,
        multivariate=multivariate,
        constant_liar=constant_liar,
    )


@register_sampler("nsga2", multi_objective=True)
def nsga2_sampler(
    *,
    seed: int | None,
    space: Any,
    directions: list[str],
    population_size: int = 10,
    mutation_prob: float | None = None,
    crossover_prob: float = 0.9,
) -> optuna.samplers.BaseSampler:
    """NSGA-II (Deb et al. 2002): non-dominated sorting with crowding distance."""
    return optuna.samplers.NSGAIISampler(
        seed=seed,
        population_size=population_size,
        mutation_prob=mutation_prob,
        crossover_prob=crossover_prob,
    )


@register_sampler("nsga3", multi_objective=True)
def nsga3_sampler(
    *,
    seed: int | None,
    space: Any,
    directions: list[str],
    population_size: int = 10,
) -> optuna.samplers.BaseSampler:
    """NSGA-III (Deb & Jain 2014): reference-point selection for many objectives."""
    return optuna.samplers.NSGAIIISampler(seed=seed, population_size=population_size)


@register_sampler("gp", multi_objective=True)
def gp_sampler(
    *,
    seed: int | None,
    space: Any,
    directions: list[str],
    n_startup_trials: int = 10,
) -> optuna.samplers.BaseSampler:
    """Gaussian-process Bayesian optimisation (Optuna's GPSampler, log-EI / EHVI)."""
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup_trials)


@register_sampler("qmc", multi_objective=True)
def qmc_sampler(
    *,
    seed: int | None,
    space: Any,
    directions: list[str],
    qmc_type: str = "sobol",
) -> optuna.samplers.BaseSampler:
    """Quasi-Monte-Carlo (Sobol/Halton) space filling: better coverage than random."""
    return optuna.samplers.QMCSampler(seed=seed, qmc_type=qmc_type, scramble=True)
