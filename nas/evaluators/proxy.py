"""The ``proxy`` evaluator: score an untrained network with a zero-cost proxy or an ensemble.

The objective ``proxy_score`` is one proxy's score, or an ensemble's over
several (``rank_average`` or ``majority_vote``, Abdelfattah et al. 2021). An
ensemble ranks the architecture against every other architecture scored so
far for the same task and batch seed (the cache is the population), so its
value is a share in [0, 1] and may drift as the population grows.

Scores are cached in the store's ``nas_proxy_cache`` table, keyed by
(architecture key, proxy, task, batch seed): re-scoring an architecture, in
this study or any other on the same storage, costs one query. The cache is
the study's own storage when it is a SQL one, or the URL in ``cache``.

Study-file parameters (``[evaluator.params]``): ``proxies`` (a name or a list;
default ``["synflow"]``), ``ensemble`` (``rank_average`` | ``majority_vote`` |
``log_rank_sum``, required with more than one proxy; or the name of one of
:data:`proxies.ensembles.NAMED_ENSEMBLES`, which brings its own proxies),
``batch_size`` (64), ``batch_seed`` (0: which images, and the weight-initialisation
seed), ``cache`` (a storage URL; ``"none"`` keeps scores in this process only).

>>> # [evaluator]
>>> # name = "proxy"
>>> # params = { proxies = ["synflow", "jacob_cov", "nwot"], ensemble = "rank_average" }
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from nas.architecture import Architecture
from nas.errors import ConfigError, NotApplicable
from nas.evaluators import EVALUATORS
from nas.evaluators._base import Evaluation, Evaluator
from nas.store import ProxyScoreCache, migrate, study_engine, write_engine
from proxies.ensembles import ENSEMBLES, NAMED_ENSEMBLES, share_of

if TYPE_CHECKING:
    import optuna

__all__ = ["ProxyEvaluator"]

log = logging.getLogger(__name__)

_PARAMS = ("proxies", "ensemble", "batch_size", "batch_seed", "cache")


@EVALUATORS.register("proxy")
class ProxyEvaluator(Evaluator):
    """Zero-cost fidelity: one minibatch, no training; scores cached in ``nas_proxy_cache``."""

    name: ClassVar[str] = "proxy"
    provides: ClassVar[tuple[str, ...]] = ("proxy_score",)

    def __init__(self, *args: Any, scores_only: bool = False, **kwargs: Any) -> None:
        """``scores_only``: a source of raw proxy columns (see :meth:`proxy_scores`) for
        another evaluator, never a rung itself; several proxies then need no ensemble rule."""
        super().__init__(*args, **kwargs)
        self.reject_unknown_params(_PARAMS)
        p = self.params
        self.ensemble: str | None = p.get("ensemble")
        named = NAMED_ENSEMBLES.get(self.ensemble) if isinstance(self.ensemble, str) else None
        if named is not None:
            given = p.get("proxies")
            if given is not None and list(dict.fromkeys([given] if isinstance(given, str) else given)) \
                    != list(named.proxies):
                raise ConfigError(f"evaluator.params.proxies: ensemble '{self.ensemble}' is "
                                  f"{'+'.join(named.proxies)}; leave proxies out or give exactly those")
        names = list(named.proxies) if named is not None else p.get("proxies", ["synflow"])
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"evaluator.params.proxies: a proxy name or a non-empty list of names, "
                              f"got {names!r}")
        self.proxies: list[str] = list(dict.fromkeys(names))
        #: the rule the ensemble applies (a named ensemble's own rule)
        self.rule: str | None = named.rule if named is not None else self.ensemble
        known = [*ENSEMBLES, *NAMED_ENSEMBLES]
        if self.ensemble is not None and self.rule not in ENSEMBLES:
            raise ConfigError(f"evaluator.params.ensemble: '{self.ensemble}' is not one of "
                              f"{', '.join(known)}")
        if len(self.proxies) > 1 and self.ensemble is None and not scores_only:
            raise ConfigError("evaluator.params.ensemble: several proxies need an ensemble rule: "
                              f"{', '.join(known)}")
        for key in ("batch_size", "batch_seed"):
            value = p.get(key, 64 if key == "batch_size" else 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "batch_size" else 0):
                raise ConfigError(f"evaluator.params.{key}: must be a {'positive' if key == 'batch_size' else 'non-negative'} "
                                  f"integer, got {value!r}")
        self.batch_size = int(p.get("batch_size", 64))
        self.batch_seed = int(p.get("batch_seed", 0))
        self.cache_url: str | None = p.get("cache")
        self._cache: ProxyScoreCache | None = None
        self._batch: Any = None
        #: how many proxy scores this evaluator computed (not read from the cache)
        self.computed = 0

    def setup(self) -> None:
        from proxies import PROXIES

        for name in self.proxies:
            PROXIES.get(name)  # unknown names fail here, listing the known ones
        self.task.prepare(self.device)

    def evaluate(self, arch: Architecture, trial: optuna.Trial | None = None) -> Evaluation:
        attrs = self.proxy_scores(arch, trial)
        scores, reasons = attrs["proxy_scores"], attrs.get("proxy_reasons", {})
        if self.ensemble is None:
            value = scores[self.proxies[0]]
            if value is None:
                raise NotApplicable(f"proxy '{self.proxies[0]}' gave no score for this architecture"
                                    + (f": {reasons[self.proxies[0]]}" if self.proxies[0] in reasons else ""))
        else:
            population = self._cache_for(trial).population(self.proxies, self.task.name, self.batch_seed)
            value = self._ensemble_values(population, {arch.key: scores})[0]
            attrs["ensemble"] = self.ensemble
        metrics = {"proxy_score": float(value)}
        return Evaluation(metrics=metrics, fidelity="proxy", attrs=attrs)

    def proxy_scores(self, arch: Architecture, trial: optuna.Trial | None = None) -> dict[str, Any]:
        """Each proxy's score of ``arch`` (``None``: no score), from the cache or computed.

        Returns the trial attributes ``evaluate`` records: ``proxy_scores``,
        ``proxy_seconds``, ``proxy_cached``, ``batch_seed`` and, when a proxy
        gave no score, ``proxy_reasons``.
        """
        cache = self._cache_for(trial)
        key, task = arch.key, self.task.name
        scores = cache.get(key, self.proxies, task, self.batch_seed)
        missing = [n for n in self.proxies if n not in scores]
        seconds = 0.0
        reasons: dict[str, str] = {}
        if missing:
            fresh = self._score(arch, missing)
            self.computed += len(missing)
            for name, result in fresh.items():
                seconds += result.seconds
                if result.reason is not None:
                    reasons[name] = result.reason
                scores[name] = result.score
            cache.put(key, task, self.batch_seed, {n: (r.score, r.seconds) for n, r in fresh.items()})
        attrs: dict[str, Any] = {"proxy_scores": dict(scores), "proxy_seconds": seconds,
                                 "proxy_cached": not missing, "batch_seed": self.batch_seed}
        if reasons:
            attrs["proxy_reasons"] = reasons
        return attrs

    # -- helpers -----------------------------------------------------------
    def _score(self, arch: Architecture, names: list[str]) -> dict[str, Any]:
        import torch

        from proxies import score

        spec = self.task.prepare(self.device)
        if self._batch is None:
            self._batch = self.task.example_batch(batch_size=self.batch_size, seed=self.batch_seed)
            self._batch = self._batch.to(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.batch_seed)  # the init is part of the cache key via the seed
            model = self.space.build(arch, spec).to(self.device)
        return score(model, self._batch, names, seed=self.batch_seed)

    def scores_of(self, archs: list[Architecture],
                  trial: optuna.Trial | None = None) -> dict[str, dict[str, float | None]]:
        """Each architecture's proxy scores (key -> scores) from one read of the cached
        population; only architectures it lacks are scored (and cached) one by one."""
        return self._scores_of(archs, trial)[0]

    def ensemble_values(self, archs: list[Architecture], trial: optuna.Trial | None = None) -> list[float]:
        """Each architecture's ensemble share, against the scored population (what
        ``evaluate`` reports as ``proxy_score``, without a query per architecture)."""
        scored, population = self._scores_of(archs, trial)
        shares = dict(zip(scored, self._ensemble_values(population, scored)))
        return [shares[arch.key] for arch in archs]

    def _scores_of(self, archs: list[Architecture], trial: optuna.Trial | None
                   ) -> tuple[dict[str, dict[str, float | None]], dict[str, dict[str, float | None]]]:
        """:meth:`scores_of`, and the population it read."""
        population = self._cache_for(trial).population(self.proxies, self.task.name, self.batch_seed)
        scored = {arch.key: population[arch.key] if arch.key in population
                  else self.proxy_scores(arch, trial)["proxy_scores"] for arch in archs}
        return scored, population

    def _ensemble_values(self, population: dict[str, dict[str, float | None]],
                         scored: dict[str, dict[str, float | None]]) -> list[float]:
        """The shares of the architectures ``scored`` (key -> scores) among ``population``
        (every cached architecture's scores; changed here), in their order."""
        population.update(scored)
        keys = sorted(population)
        columns = {n: [population[k].get(n) for k in keys] for n in self.proxies}
        return [share_of(self.rule or "rank_average", columns, keys.index(key)) for key in scored]

    def _cache_for(self, trial: optuna.Trial | None) -> ProxyScoreCache:
        if self._cache is None:
            engine = None
            if self.cache_url not in (None, "none"):
                engine = write_engine(self.cache_url)
            elif self.cache_url is None and trial is not None:
                engine = study_engine(trial.study)  # the study's own store, when it is SQL
                if engine is not None:
                    migrate(engine)  # a no-op when open_storage made the tables already
            self._cache = ProxyScoreCache(engine)
            self.setup()
        return self._cache
