"""``score(model, batch, names)``: many proxies on one private copy, sharing passes.

The model is deep-copied once; the shared main pass (see
:mod:`proxies._context`) runs once for every proxy that needs part of it, and
its time is split evenly between them. Torch's RNG is seeded from ``seed``
and the caller's RNG state is restored afterwards, so the caller's model and
random stream are untouched and the result is deterministic for a seed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nas.errors import NotApplicable
from proxies._registry import PROXIES, Proxy

if TYPE_CHECKING:
    import torch.nn as nn

    from search_spaces import Batch

__all__ = ["ProxyResult", "score"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProxyResult:
    """One proxy's outcome: ``score`` is ``None`` when not finite or not applicable (``reason``)."""

    score: float | None
    seconds: float
    reason: str | None = None


def score(model: nn.Module, batch: Batch, names: Iterable[str] | None = None, seed: int = 0
          ) -> dict[str, ProxyResult]:
    """Score ``model`` on ``batch`` with the proxies ``names`` (default: all registered).

    Unknown names raise :class:`nas.errors.UnknownNameError` listing the known
    ones, before any work is done.
    """
    from proxies._context import ProxyContext, isolated_rng

    names = PROXIES.names() if names is None else list(dict.fromkeys(names))
    proxies: list[Proxy] = [PROXIES.get(name) for name in names]
    needs = frozenset().union(*(p.needs for p in proxies)) if proxies else frozenset()
    results: dict[str, ProxyResult] = {}
    with isolated_rng(seed):
        ctx = ProxyContext(model, batch, seed=seed, needs=needs)
        shared_users = [p.name for p in proxies if p.needs]
        shared_seconds, shared_error = 0.0, None
        if shared_users:
            started = time.perf_counter()
            try:
                ctx.main()
            except NotApplicable as exc:
                shared_error = exc.reason
            except Exception as exc:  # noqa: BLE001 - a broken model must not stop the other proxies
                log.warning("the shared pass failed: %s", exc)
                shared_error = f"shared pass failed: {exc}"
            shared_seconds = (time.perf_counter() - started) / len(shared_users)
        for proxy in proxies:
            if proxy.needs and shared_error is not None:
                # Proxies that cannot use the shared pass still get their own chance alone.
                results[proxy.name] = _run_alone(proxy, model, batch, seed, shared_seconds)
                continue
            results[proxy.name] = _run(proxy, ctx, shared_seconds if proxy.needs else 0.0)
    return results


def _run(proxy: Proxy, ctx: object, extra_seconds: float) -> ProxyResult:
    started = time.perf_counter()
    try:
        value = float(proxy.rule(ctx))  # type: ignore[arg-type]
    except NotApplicable as exc:
        return ProxyResult(None, time.perf_counter() - started + extra_seconds, exc.reason)
    except Exception as exc:  # noqa: BLE001 - one proxy's bug must not cost the others' scores
        log.warning("proxy '%s' failed: %s", proxy.name, exc)
        return ProxyResult(None, time.perf_counter() - started + extra_seconds, f"failed: {exc}")
    seconds = time.perf_counter() - started + extra_seconds
    if not math.isfinite(value):
        log.warning("proxy '%s' gave a non-finite score (%s); recorded as None", proxy.name, value)
        return ProxyResult(None, seconds, f"non-finite score {value}")
    return ProxyResult(value, seconds)


def _run_alone(proxy: Proxy, model: nn.Module, batch: Batch, seed: int, extra: float) -> ProxyResult:
    from proxies._context import ProxyContext

    ctx = ProxyContext(model, batch, seed=seed, needs=proxy.needs)
    return _run(proxy, ctx, extra)
