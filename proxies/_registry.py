"""The proxy registry: ``@register_proxy("snip", needs=("grads",))`` on a scoring rule.

A scoring rule is written against a :class:`proxies._context.ProxyContext`
(``rule(ctx) -> float``), which owns a private copy of the model and computes
the forward/backward passes proxies share (see ``needs``). Registration wraps
the rule in a :class:`Proxy`, which is itself the pure function
``proxy(model, batch) -> float`` users call: it copies the model, fixes the
seed and restores the caller's RNG state. :func:`proxies.score` runs many
proxies on one context so shared passes happen once.

Torch-free at import: the registry is read by the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nas.registry import Registry

if TYPE_CHECKING:
    from proxies._context import ProxyContext
    from search_spaces import Batch

__all__ = ["PROXIES", "Proxy", "register_proxy", "SHARED_NEEDS"]

#: what the shared main pass can record: weight gradients of the cross-entropy
#: loss, weight-layer activations (and their gradients), the input Jacobian of
#: the summed outputs, ReLU on/off codes, weight gradients kept differentiable (hessian).
SHARED_NEEDS = frozenset({"grads", "activations", "jacobian", "relu", "hessian"})


@dataclass(frozen=True)
class Proxy:
    """A registered zero-cost proxy; calling it scores ``model`` on ``batch`` (higher = better)."""

    name: str
    rule: Callable[[ProxyContext], float]
    needs: frozenset[str]
    paper: str

    def __call__(self, model: Any, batch: Batch, seed: int = 0) -> float:
        from proxies._context import ProxyContext, isolated_rng

        with isolated_rng(seed):
            ctx = ProxyContext(model, batch, seed=seed, needs=self.needs)
            return float(self.rule(ctx))

    @property
    def summary(self) -> str:
        doc = (self.rule.__doc__ or "").strip().splitlines()
        return doc[0] if doc else self.name


PROXIES: Registry[Proxy] = Registry("proxy", package="proxies")


def register_proxy(
    name: str, *, needs: tuple[str, ...] = (), paper: str = ""
) -> Callable[[Callable[[ProxyContext], float]], Proxy]:
    """Register a scoring rule ``rule(ctx) -> float`` as proxy ``name``.

    ``needs`` names the parts of the shared main pass the rule reads
    (:data:`SHARED_NEEDS`); ``paper`` cites the source (short name + year).
    """
    unknown = set(needs) - SHARED_NEEDS
    if unknown:
        raise ValueError(f"proxy '{name}': unknown needs {sorted(unknown)}; known: {sorted(SHARED_NEEDS)}")

    def decorate(rule: Callable[[ProxyContext], float]) -> Proxy:
        proxy = Proxy(name=name, rule=rule, needs=frozenset(needs), paper=paper)
        PROXIES.register(name)(proxy)
        return proxy

    return decorate
