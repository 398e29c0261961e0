"""Zero-cost warm start ("zero-cost warmup", Abdelfattah et al. 2021).

Before the first query, score a pool of random architectures with cheap
zero-cost proxies (one minibatch, no training; :func:`proxies.score`), rank
them by the mean of their per-proxy ranks, and hand the top ``top_k`` to
:class:`~nas.samplers.predictor_evolution.PredictorEvolutionSampler` as its
initial design. The proxy time is not a query: :attr:`WarmStart.seconds`
reports it separately. Scores go to the store's proxy score cache
(:class:`nas.store.ProxyScoreCache`, the one the ``proxy`` evaluator uses: the
same architecture, proxy, task and seed give the same score), so a second
study with the same seed pays them once.

>>> start = rank_by_proxies(space, task, ["nwot"], random_pool(space, 100, seed=0))  # doctest: +SKIP
>>> start.archs[0]  # the pool's best-scored architecture                           # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from nas.architecture import Architecture
from nas.errors import ConfigError, StorageError
from nas.samplers._registry import register_sampler
from nas.samplers.predictor_evolution import PredictorEvolutionSampler
from nas.store import ProxyScoreCache, write_engine

__all__ = ["WarmStart", "random_pool", "rank_by_proxies", "rank_scores"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarmStart:
    """Pool architectures best first, their ensemble score, and the proxy compute time."""

    archs: tuple[Architecture, ...]
    scores: tuple[float, ...]
    seconds: float

    def top(self, k: int) -> list[dict[str, Any]]:
        return [a.to_dict() for a in self.archs[:k]]


def random_pool(space: Any, size: int, seed: int = 0) -> list[Architecture]:
    """``size`` distinct random architectures of ``space`` (all of it when it is smaller)."""
    total = space.size()
    if total is not None and total <= size:
        return space.enumerate()
    rng = np.random.default_rng(seed)
    choices = space.choices()
    pool: dict[str, Architecture] = {}
    for _ in range(size * 20):
        arch = Architecture({n: _draw(rng, c) for n, c in choices.items()})
        pool.setdefault(arch.key, arch)
        if len(pool) >= size:
            break
    return list(pool.values())


def rank_by_proxies(
    space: Any,
    task: Any,
    proxy_names: Sequence[str],
    pool: Sequence[Architecture],
    seed: int = 0,
    cache: ProxyScoreCache | None = None,
) -> WarmStart:
    """Score ``pool`` with ``proxy_names`` on one batch of ``task``; best first.

    Each network is initialised and scored as the ``proxy`` evaluator does
    (``seed`` picks the batch and the initial weights), so both share ``cache``.
    ``seconds`` is the proxy compute time of this call (cached scores count
    their recorded time, so a cached run reports what computing them cost).
    """
    import torch

    import proxies

    names = list(proxy_names)
    unknown = [n for n in names if n not in proxies.PROXIES]
    if unknown or not names:
        raise ConfigError(
            f"sampler.params.proxies: unknown proxy {unknown[0] if unknown else '(none given)'}; "
            f"known: {', '.join(proxies.PROXIES.names())}"
        )
    cache = cache if cache is not None else ProxyScoreCache(None)
    spec = task.prepare(getattr(task, "device", "cpu") or "cpu")
    batch = None
    table = np.full((len(pool), len(names)), np.nan)
    seconds = 0.0
    for i, arch in enumerate(pool):
        hits = cache.get_timed(arch.key, names, task.name, seed)
        for j, name in enumerate(names):
            if name in hits:
                score, took = hits[name]
                table[i, j] = np.nan if score is None else score
                seconds += took
        missing = [j for j, name in enumerate(names) if name not in hits]
        if not missing:
            continue
        if batch is None:
            batch = task.example_batch(seed=seed)
        started = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the initial weights the proxy evaluator scores
            model = space.build(arch, spec)
        build_seconds = (time.perf_counter() - started) / len(missing)
        results = proxies.score(model, batch, [names[j] for j in missing], seed=seed)
        fresh = {}
        for j in missing:
            result = results[names[j]]
            table[i, j] = np.nan if result.score is None else result.score
            seconds += result.seconds + build_seconds
            fresh[names[j]] = (result.score, result.seconds + build_seconds)
        cache.put(arch.key, task.name, seed, fresh)
    scores = rank_scores(table)
    order = np.argsort(-scores, kind="stable")
    log.info("zero-cost warm start: %d architectures x %d proxies in %.1f s",
             len(pool), len(names), seconds)
    return WarmStart(tuple(pool[i] for i in order), tuple(float(scores[i]) for i in order), seconds)


def rank_scores(table: np.ndarray) -> np.ndarray:
    """Mean rank per row over the columns (higher = better; a missing score ranks last).

    The proxies' own rank average (Abdelfattah et al. 2021), one column per proxy.
    """
    from proxies.ensembles import rank_average

    table = np.asarray(table, dtype=float)
    return rank_average({str(j): table[:, j].tolist() for j in range(table.shape[1])})


def _draw(rng: np.random.Generator, choice: Any) -> Any:
    grid = choice.grid()
    return grid[int(rng.integers(len(grid)))]


@register_sampler("zc-warmstart", multi_objective=True)
def zc_warmstart_sampler(
    *,
    seed: int | None,
    space: Any,
    directions: list[str],
    task: Any = None,
    proxies: Sequence[str] = ("nwot",),
    pool_size: int = 100,
    top_k: int = 10,
    cache: str = "",
    n_startup_trials: int = 10,
    predictor: str = "gbm",
    exploration: float = 2.0,
) -> optuna.samplers.BaseSampler:
    """Zero-cost warm start (Abdelfattah et al. 2021): proxy top-k seed predictor-evolution."""
    if space is None or task is None:
        raise ConfigError("sampler.name: 'zc-warmstart' needs the study's space and task")
    if top_k < 1 or pool_size < top_k:
        raise ConfigError("sampler.params.top_k: need 1 <= top_k <= pool_size")
    try:
        engine = write_engine(cache) if cache else None
    except StorageError as exc:
        raise ConfigError(f"sampler.params.cache: {exc} (a storage URL for the proxy score "
                          "cache, e.g. sqlite:///nas.db, or \"\" for none)") from None
    pool = random_pool(space, pool_size, seed=seed or 0)
    start = rank_by_proxies(space, task, list(proxies), pool, seed=seed or 0,
                            cache=ProxyScoreCache(engine))
    return PredictorEvolutionSampler(
        space, n_startup_trials=max(n_startup_trials, 2), initial_design=start.top(top_k),
        predictor=predictor, exploration=exploration, seed=seed,
    )
