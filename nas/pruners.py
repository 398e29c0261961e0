"""Optuna pruners by name, for evaluators that report a value per epoch.

A study file enables one with ``[pruner] name = "hyperband"`` (or
``"successive-halving"``, ``"median"``, ``"threshold"``); the ``train`` evaluator then reports
validation accuracy after each epoch and stops trials the pruner gives up on.
Successive halving (Jamieson & Talwalkar 2016), Hyperband (Li et al. 2017).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from nas.errors import ConfigError
from nas.registry import Registry

__all__ = ["PRUNERS", "create_pruner", "check_pruner"]

PRUNERS: Registry[Callable[..., Any]] = Registry("pruner")


@PRUNERS.register("none")
def _no_pruner() -> Any:
    """Never prune."""
    import optuna

    return optuna.pruners.NopPruner()


@PRUNERS.register("median")
def _median(*, n_startup_trials: int = 5, n_warmup_steps: int = 5) -> Any:
    """Stop a trial whose value is below the median of earlier trials at the same epoch."""
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials,
                                       n_warmup_steps=n_warmup_steps)


@PRUNERS.register("successive-halving", aliases=("asha",))
def _successive_halving(*, min_resource: int = 5, reduction_factor: int = 3) -> Any:
    """Asynchronous successive halving: keep the top 1/reduction_factor at each rung."""
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource,
                                                  reduction_factor=reduction_factor)


@PRUNERS.register("hyperband")
def _hyperband(*, min_resource: int = 5, max_resource: int = 200,
               reduction_factor: int = 3) -> Any:
    """Hyperband: several successive-halving brackets with different budgets."""
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=min_resource, max_resource=max_resource,
                                          reduction_factor=reduction_factor)


@PRUNERS.register("threshold")
def _threshold(*, lower: float = 0.0, n_warmup_steps: int = 20) -> Any:
    """Stop a trial whose value is still below ``lower`` after ``n_warmup_steps`` epochs.

    For runs that collapse (e.g. validation accuracy stuck near chance): they are
    stopped after the warm-up instead of running to the epoch limit.
    """
    import optuna

    return optuna.pruners.ThresholdPruner(lower=lower, n_warmup_steps=n_warmup_steps)


def check_pruner(name: str, params: dict[str, Any]) -> None:
    allowed = inspect.signature(PRUNERS.get(name)).parameters
    for key in params:
        if key not in allowed:
            raise ConfigError(
                f"pruner.params.{key}: unknown parameter for pruner '{name}'; "
                f"allowed: {', '.join(allowed) or 'none'}"
            )


def create_pruner(name: str, params: dict[str, Any]) -> Any:
    check_pruner(name, params)
    try:
        return PRUNERS.get(name)(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"pruner.params: {exc}") from None
