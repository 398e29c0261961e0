"""The one mutation rule of the evolutionary samplers: a value of a choice other than its
current one.

:func:`mutate` owns *which* values a choice can move to; each sampler owns its random
stream and passes two draws, so a sampler's seeded proposals do not depend on how another
sampler draws (``evolution`` keeps Optuna's ``RandomState``, ``predictor-evolution`` a
``Generator``; see :func:`pick_other_once` and :func:`pick_other_by_rejection`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

__all__ = ["mutate", "finite_values", "pick_other_once", "pick_other_by_rejection"]

#: ``pick_other(n, i)``: an index in ``[0, n)`` other than ``i`` (any index when ``i`` is None)
PickOther = Callable[[int, "int | None"], int]
#: ``draw_float(low, high, log)``: a number in the range (log-uniform when ``log``)
DrawFloat = Callable[[float, float, bool], float]


def mutate(dist: BaseDistribution, current: Any, pick_other: PickOther,
           draw_float: DrawFloat) -> Any:
    """A value of ``dist`` other than ``current`` (where there is one).

    A finite choice (categorical, int range, float range with a step) moves to another
    of its values, in order, by ``pick_other``; a continuous float range draws anew.

    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> mutate(CategoricalDistribution(["a", "b", "c"]), "a", pick_other_once(rng.randint),
    ...        lambda low, high, log: low)
    'b'
    """
    values = finite_values(dist)
    if values is None:
        assert isinstance(dist, FloatDistribution)
        return draw_float(dist.low, dist.high, dist.log)
    index = next((i for i, value in enumerate(values) if value == current), None)
    return values[pick_other(len(values), index)]


def finite_values(dist: BaseDistribution) -> list[Any] | None:
    """Every value of a finite choice in order; None for a continuous float range."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution):
        return list(range(dist.low, dist.high + 1, dist.step))
    if isinstance(dist, FloatDistribution):
        if dist.step is None:
            return None
        steps = int(round((dist.high - dist.low) / dist.step))
        return [float(dist.low + dist.step * k) for k in range(steps + 1)]
    raise TypeError(f"cannot mutate a {type(dist).__name__}")


def pick_other_once(integers: Callable[[int], int]) -> PickOther:
    """One draw among the ``n - 1`` other indices (``integers(n)`` is uniform on ``[0, n)``)."""

    def pick(n: int, current: int | None) -> int:
        if current is None:
            return int(integers(n))
        drawn = int(integers(n - 1))
        return drawn if drawn < current else drawn + 1

    return pick


def pick_other_by_rejection(integers: Callable[[int], int], tries: int = 200) -> PickOther:
    """Draws among all ``n`` indices until one differs (``current`` after ``tries`` draws)."""

    def pick(n: int, current: int | None) -> int:
        for _ in range(tries):
            drawn = int(integers(n))
            if drawn != current:
                return drawn
        assert current is not None
        return current

    return pick
