"""The proxy score cache: zero-cost proxy scores in ``nas_proxy_cache``, shared by every study.

Keyed by (architecture key, proxy, task, batch seed): re-scoring an
architecture, in this study or any other on the same storage, costs one
query. Without an engine the scores stay in this process.

    cache = ProxyScoreCache(write_engine("sqlite:///nas.db"))
    cache.put(arch.key, "cifar10", 0, {"synflow": (12.5, 0.03)})
    cache.get(arch.key, ["synflow"], "cifar10", 0)   # {"synflow": 12.5}
"""

from __future__ import annotations

import sqlalchemy as sa

from nas.errors import StorageError
from nas.store._models import ProxyCacheEntry as E

__all__ = ["ProxyScoreCache"]


class ProxyScoreCache:
    """Proxy scores by (arch key, proxy, task, batch seed): in ``nas_proxy_cache``, or in memory."""

    def __init__(self, engine: sa.Engine | None) -> None:
        self.engine = engine
        self._memory: dict[tuple[str, str, str, int], tuple[float | None, float]] = {}

    def get(self, arch_key: str, proxies: list[str], task: str, seed: int) -> dict[str, float | None]:
        """The cached scores of ``proxies`` for this architecture (missing ones left out)."""
        return {p: score for p, (score, _) in self.get_timed(arch_key, proxies, task, seed).items()}

    def get_timed(self, arch_key: str, proxies: list[str], task: str,
                  seed: int) -> dict[str, tuple[float | None, float]]:
        """As :meth:`get`, with the seconds each score took to compute."""
        if self.engine is None:
            return {p: self._memory[(arch_key, p, task, seed)] for p in proxies
                    if (arch_key, p, task, seed) in self._memory}
        query = sa.select(E.proxy, E.score, E.seconds).where(
            E.arch_key == arch_key, E.task == task, E.batch_seed == seed, E.proxy.in_(proxies))
        try:
            with self.engine.connect() as conn:
                return {proxy: (value, seconds) for proxy, value, seconds in conn.execute(query)}
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"cannot read the proxy cache: {exc}") from None

    def put(self, arch_key: str, task: str, seed: int, scores: dict[str, tuple[float | None, float]]) -> None:
        if self.engine is None:
            self._memory.update({(arch_key, p, task, seed): s for p, s in scores.items()})
            return
        for proxy, (value, seconds) in scores.items():
            row = {"arch_key": arch_key, "proxy": proxy, "task": task, "batch_seed": seed,
                   "score": value, "seconds": seconds}
            try:
                with self.engine.begin() as conn:
                    conn.execute(sa.insert(E).values(**row))
            except sa.exc.IntegrityError:
                pass  # another worker scored it first: same key, same score
            except sa.exc.SQLAlchemyError as exc:
                raise StorageError(f"cannot write the proxy cache: {exc}") from None

    def population(self, proxies: list[str], task: str, seed: int) -> dict[str, dict[str, float | None]]:
        """Every cached architecture's scores for ``proxies`` (only architectures that have all)."""
        if self.engine is None:
            rows = [(k, p, s) for (k, p, t, b), (s, _) in self._memory.items()
                    if t == task and b == seed]
        else:
            query = sa.select(E.arch_key, E.proxy, E.score).where(
                E.task == task, E.batch_seed == seed, E.proxy.in_(proxies))
            with self.engine.connect() as conn:
                rows = list(conn.execute(query))
        found: dict[str, dict[str, float | None]] = {}
        for key, proxy, value in rows:
            if proxy in proxies:
                found.setdefault(key, {})[proxy] = value
        return {k: v for k, v in found.items() if len(v) == len(proxies)}
