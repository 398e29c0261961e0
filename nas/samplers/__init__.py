"""Samplers: Optuna's own plus ours, all as Optuna ``BaseSampler`` objects."""

from nas.samplers._prior import PriorTrial, best_prior_archs, prior_trials
from nas.samplers._registry import (
    SAMPLERS,
    SamplerPlugin,
    check_sampler,
    create_sampler,
    register_sampler,
    uses_prior,
)

__all__ = ["SAMPLERS", "SamplerPlugin", "check_sampler", "create_sampler", "register_sampler",
           "uses_prior", "PriorTrial", "best_prior_archs", "prior_trials"]
