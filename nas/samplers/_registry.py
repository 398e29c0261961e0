"""The sampler registry: factories that build an Optuna ``BaseSampler``.

A sampler plugin is a function with keyword-only parameters, decorated with
``@register_sampler(name, multi_objective=…)``. Its parameters are exactly the
keys a study file may put under ``[sampler.params]``; the registry checks them
and the number of objectives before a study is created.

>>> @register_sampler("random-example", multi_objective=True)
... def make_random(*, seed, space, directions):
...     return optuna.samplers.RandomSampler(seed=seed)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nas.errors import ConfigError
from nas.registry import Registry

if TYPE_CHECKING:
    import optuna

    from search_spaces import SearchSpace

__all__ = ["SAMPLERS", "SamplerPlugin", "register_sampler", "create_sampler", "check_sampler",
           "uses_prior"]

# Arguments every factory receives from the search loop, never from the study file;
# ``task`` (the prepared task), ``prior`` (earlier studies' trials, ``warm_start``,
# a list of :class:`nas.samplers._prior.PriorTrial`) and ``budget`` (the study's
# ``n_trials``, ``None`` without one) only reach factories that declare them.
_CONTEXT_ARGS = ("seed", "space", "directions", "task", "prior", "budget")


@dataclass(frozen=True)
class SamplerPlugin:
    name: str
    factory: Callable[..., optuna.samplers.BaseSampler]
    single_objective: bool
    multi_objective: bool
    summary: str

    def params(self) -> dict[str, Any]:
        """User-settable parameters and their defaults."""
        sig = inspect.signature(self.factory)
        return {
            n: p.default for n, p in sig.parameters.items()
            if n not in _CONTEXT_ARGS and p.kind is p.KEYWORD_ONLY
        }


SAMPLERS: Registry[SamplerPlugin] = Registry("sampler", package="nas.samplers")


def register_sampler(
    name: str, *, single_objective: bool = True, multi_objective: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
        summary = (inspect.getdoc(factory) or "").split("\n")[0]
        SAMPLERS.register(name)(
            SamplerPlugin(name, factory, single_objective, multi_objective, summary)
        )
        return factory

    return decorate


def uses_prior(name: str) -> bool:
    """Whether sampler ``name`` takes earlier studies' trials itself (else they are enqueued)."""
    return "prior" in inspect.signature(SAMPLERS.get(name).factory).parameters


def check_sampler(name: str, params: dict[str, Any], n_objectives: int) -> SamplerPlugin:
    """Raise :class:`ConfigError` if ``params`` or the objective count do not fit."""
    plugin = SAMPLERS.get(name)
    allowed = plugin.params()
    for key in params:
        if key not in allowed:
            listed = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(f"sampler.params.{key}: unknown parameter for '{name}'; allowed: {listed}")
    if n_objectives > 1 and not plugin.multi_objective:
        multi = [n for n, p in SAMPLERS.items() if p.multi_objective]
        raise ConfigError(
            f"sampler.name: '{name}' supports a single objective only, the study has "
            f"{n_objectives}; multi-objective samplers: {', '.join(multi)}"
        )
    if n_objectives == 1 and not plugin.single_objective:
        raise ConfigError(f"sampler.name: '{name}' needs two or more objectives")
    return plugin


def create_sampler(
    name: str,
    params: dict[str, Any],
    *,
    seed: int | None,
    directions: Sequence[str],
    space: SearchSpace | None = None,
    task: Any = None,
    prior: Sequence[Any] = (),
    budget: int | None = None,
) -> optuna.samplers.BaseSampler:
    plugin = check_sampler(name, params, len(directions))
    context: dict[str, Any] = {"seed": seed, "space": space, "directions": list(directions)}
    declared = inspect.signature(plugin.factory).parameters
    if "task" in declared:
        context["task"] = task
    if "prior" in declared:
        context["prior"] = list(prior)
    if "budget" in declared:
        context["budget"] = budget
    try:
        return plugin.factory(**context, **params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"sampler.params: {exc}") from None
