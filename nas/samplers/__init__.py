"""Samplers: Optuna's own plus ours, all as Optuna ``BaseSampler`` objects."""

from nas.samplers._registry import (
    SAMPLERS,
    SamplerPlugin,
    check_sampler,
    create_sampler,
    register_sampler,
)

__all__ = ["SAMPLERS", "SamplerPlugin", "check_sampler", "create_sampler", "register_sampler"]
