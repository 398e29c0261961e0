"""Predictor-guided evolution (LINAS, Cummings et al. 2022) as an Optuna sampler.

After a start-up design (``initial_design`` architectures, e.g. a zero-cost
warm start, then random ones) each new trial:

1. with one objective and ``local_search=True`` (finite choices): proposes an
   unqueried one-choice neighbour of the best trial, else of the runner-up, ...
   (local search, White et al. 2021), picked by the predictor when
   ``local_predictor=True``, at random otherwise. Off by default: on
   NAS-Bench-201 the copula GP below over the whole space beat it;
2. fits a small predictor per objective on every completed trial, features =
   ``space.encode(arch)`` (for ``nb201``: one-hot ops + BANANAS path encoding),
   targets = the objective values: ``gp`` (exact Gaussian process, numpy) or a
   scikit-learn bootstrap ensemble (``gbm``, ``rf``, ``ridge``), or ``ard``: a
   GP on the choices themselves with one fitted relevance per choice (the
   default with one objective; ``gp`` with several). ``features="graph"`` (the
   ``predictor-graph`` sampler) uses the zero-cost graph features of
   :mod:`nas.features` instead (GRAF, Kadlecová et al. 2024) with ``gp-scaled``,
   a GP on features scaled to unit spread. With one objective the
   targets are the trials' ranks as normal quantiles (a Gaussian copula) and
   architectures are taken in the space's canonical form
   (``space.canonical``, where the space has one), so equivalent ones are
   never queried twice;
3. candidates: with one objective and a finite space of at most
   ``exhaustive_limit`` (canonical) architectures, all of them not yet queried;
   otherwise a large pool evolved without querying anything: one- and
   two-choice mutations of the best trials, random architectures drawn like
   the best quarter of trials (TPE-style), then mutations of the best
   *predicted* candidates for ``n_generations``;
4. proposes the candidate with the best acquisition, never one already queried:
   mean + ``exploration`` x predictive spread (one objective), or the largest
   hypervolume gain of the optimistic prediction over the observed front
   (several objectives). With one objective and a trial ``budget`` (the
   study's ``n_trials``), ``exploration`` falls linearly from its value after
   the start-up to 0 at the last trial (``exploration_decay``, on by default):
   explore while there is budget left to use what is learnt, exploit at the
   end. Without a budget, with several objectives or with
   ``exploration_decay=False`` it stays constant (see ``_exploration_left``).

Nothing is kept in memory between trials: the pool, the predictor and the
random stream of trial ``n`` derive from the stored trials, the seed and ``n``,
so a restarted search (a new process loading the study) proposes exactly
what the uninterrupted one would have.

>>> sampler = PredictorEvolutionSampler(space, n_startup_trials=10, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from nas.dominance import hypervolume_contributions, pareto_mask, spread_reference
from nas.samplers._mutation import mutate, pick_other_by_rejection
from nas.samplers._predictors import PREDICTORS, fit_ensemble, gaussian_copula
from nas.samplers._prior import PriorMean, PriorTrial, best_prior_archs, capped
from nas.samplers._registry import register_sampler
from nas.store import study_trials

__all__ = ["PredictorEvolutionSampler", "PREDICTORS", "FEATURES", "fit_ensemble"]
_MAX_TRIES = 200
#: predictor features: ``auto`` = choice codes for ``ard``, else ``space.encode``;
#: ``graph`` = the compact zero-cost graph features of :mod:`nas.features` (GRAF-style)
FEATURES = ("auto", "graph")


class PredictorEvolutionSampler(BaseSampler):
    """Proposes the pool candidate a predictor ensemble trained on the study likes best."""

    def __init__(
        self,
        space: Any = None,
        *,
        n_startup_trials: int = 10,
        initial_design: Sequence[Mapping[str, Any]] = (),
        predictor: str = "auto",
        ensemble_size: int = 3,
        exploration: float | None = None,
        top_k: int = 5,
        pool_size: int = 500,
        n_generations: int = 2,
        local_search: bool = False,
        local_predictor: bool = False,
        exhaustive_limit: int = 20_000,
        features: str = "auto",
        prior: Sequence[PriorTrial] = (),
        prior_design: int = 3,
        budget: int | None = None,
        exploration_decay: bool = True,
        seed: int | None = None,
    ) -> None:
        if features not in FEATURES:
            raise ValueError(f"features must be one of {', '.join(FEATURES)}, got {features!r}")
        if predictor not in (*PREDICTORS, "auto"):
            raise ValueError(
                f"predictor must be one of auto, {', '.join(PREDICTORS)}, got {predictor!r}"
            )
        if n_startup_trials < 2 or ensemble_size < 1 or top_k < 1 or pool_size < 1:
            raise ValueError(
                "need n_startup_trials >= 2, ensemble_size >= 1, top_k >= 1 and pool_size >= 1"
            )
        if n_generations < 1 or (exploration is not None and exploration < 0):
            raise ValueError("need n_generations >= 1 and exploration >= 0")
        if prior_design < 1:
            raise ValueError(f"need prior_design >= 1, got {prior_design}")
        if budget is not None and budget < 1:
            raise ValueError(f"need budget >= 1 or None, got {budget}")
        self.space = space
        self.n_startup_trials = n_startup_trials
        self.initial_design = [dict(a) for a in initial_design]
        #: earlier studies' trials (``warm_start``): the predictor's mean, and with no
        #: other initial design, their ``prior_design`` best architectures come first
        self.prior = capped(prior)
        if self.prior and not self.initial_design:
            self.initial_design = best_prior_archs(self.prior, prior_design)
        self._prior_models: dict[tuple[Any, ...], Any] = {}
        self.predictor = predictor
        self.ensemble_size = ensemble_size
        self.exploration = exploration
        #: the study's trial budget (``n_trials``): what ``exploration_decay`` counts down to
        self.budget = budget
        self.exploration_decay = exploration_decay
        self.top_k = top_k
        self.pool_size = pool_size
        self.n_generations = n_generations
        self.local_search = local_search
        self.local_predictor = local_predictor
        self.exhaustive_limit = exhaustive_limit
        self.features = features
        self._seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        self._codes: dict[tuple[Any, ...], np.ndarray] = {}
        self._spaces: dict[tuple[Any, ...], Any] = {}

    def reseed_rng(self) -> None:
        self._seed = int(np.random.SeedSequence().entropy % 2**31)

    # -- Optuna sampler API ------------------------------------------------
    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        completed = _trials(study, (TrialState.COMPLETE,))
        return dict(completed[-1].distributions) if completed else {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        rng = self._rng(trial.number)
        completed = [t for t in _trials(study, (TrialState.COMPLETE,))
                     if all(n in t.params for n in search_space)]
        single = len(study.directions) == 1
        # One objective: an architecture equivalent to a queried one (same canonical
        # form, e.g. a different op on a dead edge) counts as queried.
        earlier = [t.params for t in _trials(study, None) if t.params and t.number != trial.number]
        seen = {_key(p, search_space) for p in earlier}
        if single:
            seen |= {_key(self._canonical(p, search_space), search_space) for p in earlier}
        design = self._next_design(search_space, seen)
        if design is not None:
            return design
        # With a prior (one objective), the predictor is informed from the first trial on.
        if len(completed) < self.n_startup_trials and not (single and self.prior):
            if not single:
                return _random_unseen(rng, search_space, seen)
            for _ in range(_MAX_TRIES):
                params = self._canonical(_random_value_set(rng, search_space), search_space)
                if _key(params, search_space) not in seen:
                    break
            return params
        return self._propose(rng, study.directions, search_space, completed, seen)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        # Only before anything completed (the relative space is empty): the first
        # design architecture if any, else a value drawn from (seed, trial, name).
        for design in self.initial_design:
            if param_name in design and param_distribution._contains(
                param_distribution.to_internal_repr(design[param_name])
            ):
                return design[param_name]
        rng = self._rng(trial.number, param_name)
        return _random_value(rng, param_distribution)

    # -- proposal ------------------------------------------------------------
    def _next_design(
        self, search_space: dict[str, BaseDistribution], seen: set[tuple[Any, ...]]
    ) -> dict[str, Any] | None:
        for design in self.initial_design:
            params = {n: design[n] for n in search_space if n in design}
            if len(params) == len(search_space) and _key(params, search_space) not in seen:
                return params
        return None

    def _propose(
        self,
        rng: np.random.Generator,
        directions: Sequence[StudyDirection],
        search_space: dict[str, BaseDistribution],
        completed: list[FrozenTrial],
        seen: set[tuple[Any, ...]],
    ) -> dict[str, Any]:
        signs = np.array([1.0 if d == StudyDirection.MAXIMIZE else -1.0 for d in directions])
        scores = np.array([t.values for t in completed], dtype=float) * signs  # higher = better
        single = scores.shape[1] == 1
        kind, exploration = self._settings(single)
        if single:
            exploration *= self._exploration_left(len(completed))
        if single and self.local_search:
            local = _local_candidates(search_space, completed, scores[:, 0], seen, self.top_k)
            if local:
                return self._pick(rng, search_space, completed, scores, local, kind, exploration)
        if single:
            # The predictor learns the order of the trials (see gaussian_copula), on
            # canonical forms; a small finite space is scored whole instead of a pool.
            features = np.stack([self._encode(self._canonical(t.params, search_space),
                                              search_space, kind) for t in completed])
            model = self._fit(kind, features, gaussian_copula(scores[:, 0]), rng, search_space)
            whole = self._whole_space(search_space)
            if whole is not None:
                archs, keys = whole
                rows = np.array([i for i, k in enumerate(keys) if k not in seen], dtype=int)
                if len(rows):
                    mean, spread = model.predict(np.stack(
                        [self._encode(archs[i], search_space, kind) for i in rows]))
                    optimistic = mean + exploration * spread
                    return dict(archs[int(rows[_best_index(optimistic, rng)])])
            models = [model]
        else:
            features = np.stack([self._encode(t.params, search_space, kind) for t in completed])
            models = [
                fit_ensemble(kind, features, scores[:, j], self.ensemble_size, rng)
                for j in range(scores.shape[1])
            ]
        parents = [completed[i].params for i in _best_rows(scores, self.top_k)]
        pool: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._grow(pool, rng, search_space, parents, seen, self.pool_size)
        # Random candidates drawn from the choices' frequencies among the best quarter
        # of trials (a TPE-like "good region", Bergstra et al. 2011), some uniform.
        good = [completed[i].params for i in _best_rows(scores, max(self.top_k, len(completed) // 4))]
        for params in _draw_like(rng, search_space, good, self.pool_size // 2):
            pool.setdefault(_key(params, search_space), params)
        if single:  # equivalent candidates collapse onto their canonical form
            pool = {_key(c, search_space): c for c in
                    (self._canonical(p, search_space) for p in pool.values())}
        for key in seen:
            pool.pop(key, None)
        candidates = list(pool.values())
        if not candidates:
            return _random_unseen(rng, search_space, seen)
        mean, spread = self._predict(models, candidates, search_space, kind)
        for _ in range(self.n_generations - 1):
            ranked = np.argsort(-_standardised(mean).sum(axis=1), kind="stable")[: self.top_k]
            best = [candidates[i] for i in ranked]
            before = len(candidates)
            self._grow(pool, rng, search_space, best, seen, self.pool_size // 2)
            for key in seen:
                pool.pop(key, None)
            fresh = list(pool.values())[before:]
            if not fresh:
                break
            m, s = self._predict(models, fresh, search_space, kind)
            candidates += fresh
            mean, spread = np.vstack([mean, m]), np.vstack([spread, s])
        optimistic = mean + exploration * spread
        if scores.shape[1] == 1:
            return candidates[_best_index(optimistic[:, 0], rng)]
        return candidates[_best_hypervolume_gain(scores, optimistic, rng)]

    def _fit(self, kind: str, features: np.ndarray, targets: np.ndarray,
             rng: np.random.Generator, search_space: dict[str, BaseDistribution]) -> Any:
        """The predictor of one objective: on the study's trials, around the prior's mean if any."""
        if not self.prior:
            return fit_ensemble(kind, features, targets, self.ensemble_size, rng)
        return PriorMean(
            self._prior_model(kind, search_space),
            lambda x, y: fit_ensemble(kind, x, y, self.ensemble_size, rng),
        ).fit(features, targets)

    def _prior_model(self, kind: str, search_space: dict[str, BaseDistribution]) -> Any:
        """The predictor fitted on the prior's trials: a memo of the prior, not search state."""
        memo = (kind, *sorted((n, repr(d)) for n, d in search_space.items()))
        if memo not in self._prior_models:
            usable = [t for t in self.prior if all(n in t.params for n in search_space)]
            if not usable:
                self._prior_models[memo] = _ZeroModel()
            else:
                features = np.stack([
                    self._encode(self._canonical({n: t.params[n] for n in search_space},
                                                 search_space), search_space, kind)
                    for t in usable])
                targets = np.array([t.score for t in usable])
                # A fixed stream: the prior model is the same in every process and trial.
                self._prior_models[memo] = fit_ensemble(kind, features, targets,
                                                        self.ensemble_size,
                                                        np.random.default_rng(self._seed))
        return self._prior_models[memo]

    def _pick(
        self,
        rng: np.random.Generator,
        search_space: dict[str, BaseDistribution],
        completed: list[FrozenTrial],
        scores: np.ndarray,
        candidates: list[dict[str, Any]],
        kind: str,
        exploration: float,
    ) -> dict[str, Any]:
        """The local candidate the predictor likes best (any of them with ``local_predictor=False``)."""
        if not self.local_predictor or len(candidates) == 1:
            return candidates[int(rng.integers(len(candidates)))]
        features = np.stack([self._encode(t.params, search_space, kind) for t in completed])
        model = fit_ensemble(kind, features, scores[:, 0], self.ensemble_size, rng)
        mean, spread = self._predict([model], candidates, search_space, kind)
        optimistic = mean[:, 0] + exploration * spread[:, 0]
        return candidates[_best_index(optimistic, rng)]

    def _grow(
        self,
        pool: dict[tuple[Any, ...], dict[str, Any]],
        rng: np.random.Generator,
        search_space: dict[str, BaseDistribution],
        parents: list[dict[str, Any]],
        seen: set[tuple[Any, ...]],
        budget: int,
    ) -> None:
        """Add every one-choice neighbour of each parent, then random two-choice mutants."""
        mutable = [n for n, d in search_space.items() if not d.single()]
        if not mutable:
            return
        for parent in parents:
            for name in mutable:
                for value in _neighbour_values(rng, search_space[name], parent[name]):
                    child = dict(parent, **{name: value})
                    pool.setdefault(_key(child, search_space), child)
        per_parent = max(1, budget // max(1, len(parents)))
        for parent in parents:
            for _ in range(per_parent):
                child = dict(parent)
                picks = rng.choice(len(mutable), size=min(2, len(mutable)), replace=False)
                for i in picks:
                    name = mutable[int(i)]
                    child[name] = _mutate(rng, search_space[name], child[name])
                pool.setdefault(_key(child, search_space), child)

    def _predict(
        self, models: list[Any], candidates: list[dict[str, Any]],
        search_space: dict[str, BaseDistribution], kind: str,
    ) -> tuple[np.ndarray, np.ndarray]:
        features = np.stack([self._encode(c, search_space, kind) for c in candidates])
        predictions = [model.predict(features) for model in models]
        return (np.stack([m for m, _ in predictions], axis=1),
                np.stack([s for _, s in predictions], axis=1))

    def _canonical(self, params: Mapping[str, Any],
                   search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """``params`` in the space's canonical form (unchanged without ``space.canonical``)."""
        canonical = getattr(self.space, "canonical", None)
        if canonical is None or set(params) != set(self.space.choices()):
            return dict(params)
        from nas.architecture import Architecture

        return {n: v for n, v in canonical(Architecture(dict(params))).items() if n in search_space}

    def _whole_space(self, search_space: dict[str, BaseDistribution]) -> Any:
        """Every canonical architecture within the study's choices, and their keys.

        ``None`` when the space is unknown, has ranges, has choices the study
        does not ask for, or holds more than ``exhaustive_limit`` architectures.
        A memo of the space (not search state), built once per sampler.
        """
        memo = tuple(sorted((n, repr(d)) for n, d in search_space.items()))
        if memo not in self._spaces:
            self._spaces[memo] = None
            size = self.space.size() if self.space is not None else None
            if size is not None and size <= self.exhaustive_limit \
                    and set(self.space.choices()) == set(search_space):
                archs: dict[tuple[Any, ...], dict[str, Any]] = {}
                for arch in self.space.enumerate():
                    if all(d._contains(d.to_internal_repr(arch[n])) for n, d in search_space.items()):
                        params = self._canonical(arch, search_space)
                        archs.setdefault(_key(params, search_space), params)
                self._spaces[memo] = (list(archs.values()), list(archs))
        return self._spaces[memo]

    def _settings(self, single: bool) -> tuple[str, float]:
        """Predictor kind and exploration: ``auto`` and ``None`` pick the measured best.

        On NAS-Bench-201 (``nas bench search``, i.e. :mod:`nas.bench.search`, or
        ``benchmarks/nb201_search.py``): ``ard`` with 4.0 for one objective; ``gp`` with
        2.0 for accuracy vs latency; with ``features="graph"`` (``predictor-graph``)
        ``gp-scaled`` with the same explorations (CIFAR-10, 30 seeds: the best-by-validation
        architecture at 50 queries in every seed).
        """
        if self.predictor != "auto":
            kind = self.predictor
        elif self.features == "graph":
            kind = "gp-scaled"
        else:
            kind = "ard" if single else "gp"
        exploration = self.exploration if self.exploration is not None else (4.0 if single else 2.0)
        return kind, exploration

    def _exploration_left(self, n_completed: int) -> float:
        """The share of ``exploration`` kept at this trial: 1 without a budget or decay.

        Linear from 1 after the start-up to ``1 / (budget - n_startup_trials)`` for
        the last trial (0 beyond). On by default; measured with ``nas bench search
        --sampler predictor-graph --queries 20,50 --seeds 30`` (best-in-table
        architecture at 50 queries, decay vs constant 4.0): ImageNet16-120 27 vs 18 of
        30 (seeds 30-59: 24 vs 16), CIFAR-10 30 vs 30, but CIFAR-100 25 vs 30 (it
        settles on the runner-up, 73.48 vs 73.51). Annealing exploration to the end of
        a known budget is the usual schedule; ``exploration_decay=False`` keeps it
        constant.
        """
        if not self.exploration_decay or self.budget is None:
            return 1.0
        span = max(1, self.budget - self.n_startup_trials)
        return float(min(1.0, max(0.0, (self.budget - n_completed) / span)))

    def _encode(self, params: Mapping[str, Any], search_space: dict[str, BaseDistribution],
                kind: str) -> np.ndarray:
        """Predictor features: choice codes for ``ard``, else ``space.encode``; or graph features."""
        # A memo of a pure function (not search state): encoding is the slow part of a pool.
        graph = self.features == "graph" and self.space is not None
        key = (kind == "ard" and not graph, *_key(params, search_space))
        code = self._codes.get(key)
        if code is None:
            if graph:
                code = _graph_code(self.space, params)
            elif kind == "ard":
                code = _choice_codes(params, search_space)
            elif self.space is not None:
                from nas.architecture import Architecture

                code = np.asarray(self.space.encode(Architecture(dict(params))), dtype=np.float64)
            else:
                code = _encode_by_distribution(params, search_space)
            if len(self._codes) < 200_000:
                self._codes[key] = code
        return code

    def _rng(self, number: int, name: str = "") -> np.random.Generator:
        salt = [ord(c) for c in name]
        return np.random.default_rng([self._seed, number, *salt])


# -- helpers -------------------------------------------------------------

class _ZeroModel:
    """A prior that knows nothing of these choices: mean 0, no spread."""

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(len(features)), np.zeros(len(features))


def _trials(study: Study, states: tuple[TrialState, ...] | None) -> list[FrozenTrial]:
    return study_trials(study, states)


def _key(params: Mapping[str, Any], search_space: Mapping[str, BaseDistribution]) -> tuple[Any, ...]:
    return tuple(params.get(n) for n in sorted(search_space))


def _local_candidates(
    search_space: dict[str, BaseDistribution],
    completed: list[FrozenTrial],
    scores: np.ndarray,
    seen: set[tuple[Any, ...]],
    max_parents: int,
) -> list[dict[str, Any]]:
    """Unqueried one-choice neighbours of the best trial, else of the next best, ...

    Local search (White et al. 2021, "Local search is state of the art for NAS
    benchmarks"): hill-climbing over one-choice neighbours; once the best
    trial's neighbourhood is exhausted (a local optimum) it goes on around the
    runners-up, at most ``max_parents`` of them, then hands over to the pool.
    Only finite choices have a neighbourhood; a space with ranges returns ``[]``.
    """
    if not all(isinstance(d, CategoricalDistribution) or (
            isinstance(d, IntDistribution) and not d.log and (d.high - d.low) // d.step < 16)
            for d in search_space.values()):
        return []
    rng = np.random.default_rng(0)  # unused: the neighbour values of finite choices are all of them
    order = np.argsort(-scores, kind="stable")
    for row in order[:max_parents]:
        parent = completed[int(row)].params
        out = []
        for name, dist in search_space.items():
            for value in _neighbour_values(rng, dist, parent[name]):
                child = dict(parent, **{name: value})
                if _key(child, search_space) not in seen:
                    out.append(child)
        if out:
            return out
    return []


def _best_index(values: np.ndarray, rng: np.random.Generator) -> int:
    """The index of the largest value, ties broken at random."""
    best = np.flatnonzero(values == values.max())
    return int(best[rng.integers(len(best))])


def _best_rows(scores: np.ndarray, k: int) -> list[int]:
    """Row indexes of the ``k`` best (higher = better): by score, or non-dominated first.

    Several objectives: the non-dominated rows first, then the others, each
    group ordered by the sum of standardised scores (vectorised; pools are large).
    """
    if scores.shape[1] == 1:
        return list(np.argsort(-scores[:, 0], kind="stable")[:k])
    spread = scores.std(axis=0)
    normalised = (scores - scores.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    dominated = ~pareto_mask(scores, ["maximize"] * scores.shape[1])
    order = np.lexsort((-normalised.sum(axis=1), dominated))
    return list(order[:k])


def _best_hypervolume_gain(
    scores: np.ndarray, optimistic: np.ndarray, rng: np.random.Generator
) -> int:
    """Candidate whose optimistic prediction adds most hypervolume to the observed front."""
    low, high = scores.min(axis=0), scores.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    observed = -(scores - low) / span
    predicted = -(optimistic - low) / span
    reference = spread_reference(observed)  # the worst observed, 10% of the range beyond
    gains = hypervolume_contributions(observed, predicted, reference)
    if gains.max() > 0:
        return int(np.argmax(gains))
    # Nothing predicted beyond the front: the candidate closest to it.
    distance = np.min(np.linalg.norm(predicted[:, None, :] - observed[None, :, :], axis=2), axis=1)
    best = np.flatnonzero(distance == distance.min())
    return int(best[rng.integers(len(best))])


def _random_unseen(
    rng: np.random.Generator, search_space: dict[str, BaseDistribution], seen: set[tuple[Any, ...]]
) -> dict[str, Any]:
    params = _random_value_set(rng, search_space)
    for _ in range(_MAX_TRIES):
        if _key(params, search_space) not in seen:
            break
        params = _random_value_set(rng, search_space)
    return params


def _random_value_set(rng: np.random.Generator, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
    return {n: _random_value(rng, d) for n, d in search_space.items()}


def _random_value(rng: np.random.Generator, dist: BaseDistribution) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(rng.integers(len(dist.choices)))]
    if isinstance(dist, IntDistribution):
        if dist.log:
            value = math.exp(rng.uniform(math.log(dist.low), math.log(dist.high + 1)))
            return int(min(dist.high, max(dist.low, math.floor(value))))
        steps = (dist.high - dist.low) // dist.step
        return int(dist.low + dist.step * int(rng.integers(steps + 1)))
    if isinstance(dist, FloatDistribution):
        if dist.log:
            return float(math.exp(rng.uniform(math.log(dist.low), math.log(dist.high))))
        if dist.step is not None:
            steps = int(round((dist.high - dist.low) / dist.step))
            return float(dist.low + dist.step * int(rng.integers(steps + 1)))
        return float(rng.uniform(dist.low, dist.high))
    raise TypeError(f"cannot sample a {type(dist).__name__}")


def _draw_like(
    rng: np.random.Generator, search_space: dict[str, BaseDistribution],
    good: list[dict[str, Any]], n: int,
) -> list[dict[str, Any]]:
    """``n`` candidates: categorical choices drawn by their smoothed frequency in ``good``
    (one in five uniformly), other choices mutated from a random ``good`` member."""
    columns: dict[str, list[Any]] = {}
    for name, dist in search_space.items():
        if isinstance(dist, CategoricalDistribution):
            counts = np.array([1.0 + sum(g[name] == c for g in good) for c in dist.choices])
            uniform = np.full(len(counts), 1.0 / len(counts))
            p = 0.8 * counts / counts.sum() + 0.2 * uniform
            columns[name] = [dist.choices[int(i)] for i in rng.choice(len(counts), size=n, p=p)]
        else:
            parents = rng.integers(len(good), size=n)
            columns[name] = [
                good[int(j)][name] if rng.random() < 0.5 else _mutate(rng, dist, good[int(j)][name])
                for j in parents
            ]
    return [{name: columns[name][i] for name in search_space} for i in range(n)]


def _standardised(values: np.ndarray) -> np.ndarray:
    spread = values.std(axis=0)
    return (values - values.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def _neighbour_values(rng: np.random.Generator, dist: BaseDistribution, current: Any) -> list[Any]:
    """Every other value of a small categorical/int choice; a few random ones otherwise."""
    if isinstance(dist, CategoricalDistribution):
        return [c for c in dist.choices if c != current]
    if isinstance(dist, IntDistribution) and not dist.log and (dist.high - dist.low) // dist.step < 16:
        return [v for v in range(dist.low, dist.high + 1, dist.step) if v != current]
    return [_mutate(rng, dist, current) for _ in range(4)]


def _mutate(rng: np.random.Generator, dist: BaseDistribution, current: Any) -> Any:
    """:func:`nas.samplers._mutation.mutate`, drawing among all values until one differs."""

    def draw_float(low: float, high: float, log: bool) -> float:
        if log:
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        return float(rng.uniform(low, high))

    return mutate(dist, current, pick_other_by_rejection(rng.integers, _MAX_TRIES), draw_float)


def _graph_code(space: Any, params: Mapping[str, Any]) -> np.ndarray:
    """The compact zero-cost graph features of :mod:`nas.features` (the default choices filled in)."""
    arch = {**space.default(), **params}
    if not callable(getattr(space, "graph", None)):  # choice features depend on overrides
        return _graph_code_of(space, tuple(sorted(arch.items())))
    # A cell graph's features depend on the architecture alone: one memo for every sampler.
    return _cached_graph_code(space.name, tuple(sorted(arch.items())))


def _graph_code_of(space: Any, items: tuple[tuple[str, Any], ...]) -> np.ndarray:
    from nas.architecture import Architecture
    from nas.features import compact_columns, feature_names, graph_features

    return graph_features(space, Architecture(dict(items)))[compact_columns(feature_names(space))]


@functools.lru_cache(maxsize=65_536)
def _cached_graph_code(space_name: str, items: tuple[tuple[str, Any], ...]) -> np.ndarray:
    """A memo of a pure function (the registry's space by name), shared by every seed's sampler."""
    return _graph_code_of(_registry_space(space_name), items)


@functools.lru_cache(maxsize=16)
def _registry_space(name: str) -> Any:
    from search_spaces import create_space

    return create_space(name, {})


def _choice_codes(params: Mapping[str, Any], search_space: Mapping[str, BaseDistribution]) -> np.ndarray:
    """One number per choice (for ``ard``): a categorical's index, a range scaled to [0, 1]."""
    parts = []
    for name in sorted(search_space):
        dist, value = search_space[name], params[name]
        if isinstance(dist, CategoricalDistribution):
            parts.append(float(dist.to_internal_repr(value)))
        else:
            parts.extend(_encode_by_distribution({name: value}, {name: dist}))
    return np.asarray(parts, dtype=np.float64)


def _encode_by_distribution(params: Mapping[str, Any], search_space: Mapping[str, BaseDistribution]) -> np.ndarray:
    """One-hot categoricals, ranges scaled to [0, 1] (log ranges in log space)."""
    parts: list[float] = []
    for name in sorted(search_space):
        dist, value = search_space[name], params[name]
        if isinstance(dist, CategoricalDistribution):
            parts.extend(1.0 if value == c else 0.0 for c in dist.choices)
        else:
            low, high, x = float(dist.low), float(dist.high), float(value)
            if getattr(dist, "log", False):
                low, high, x = math.log(low), math.log(high), math.log(x)
            parts.append(0.0 if high == low else (x - low) / (high - low))
    return np.asarray(parts, dtype=np.float64)


@register_sampler("predictor-evolution", multi_objective=True)
def predictor_evolution_sampler(
    *,
    seed: int | None,
    space: Any,
    directions: list[str],
    n_startup_trials: int = 10,
    predictor: str = "auto",
    ensemble_size: int = 3,
    exploration: float | None = None,
    top_k: int = 5,
    pool_size: int = 500,
    n_generations: int = 2,
    local_search: bool = False,
    local_predictor: bool = False,
    exhaustive_limit: int = 20_000,
    features: str = "auto",
    prior_design: int = 3,
    exploration_decay: bool = True,
    prior: Sequence[PriorTrial] = (),
    budget: int | None = None,
) -> optuna.samplers.BaseSampler:
    """Predictor-guided evolution (LINAS, Cummings et al. 2022): a GP ranks the space or an evolved pool."""
    return PredictorEvolutionSampler(
        space, n_startup_trials=n_startup_trials, predictor=predictor,
        ensemble_size=ensemble_size, exploration=exploration, top_k=top_k,
        pool_size=pool_size, n_generations=n_generations, local_search=local_search,
        local_predictor=local_predictor, exhaustive_limit=exhaustive_limit, features=features,
        prior=prior, prior_design=prior_design, budget=budget,
        exploration_decay=exploration_decay, seed=seed,
    )


@register_sampler("predictor-graph", multi_objective=True)
def predictor_graph_sampler(
    *,
    seed: int | None,
    space: Any,
    directions: list[str],
    n_startup_trials: int = 10,
    predictor: str = "auto",
    ensemble_size: int = 3,
    exploration: float | None = None,
    top_k: int = 5,
    pool_size: int = 500,
    n_generations: int = 2,
    exhaustive_limit: int = 20_000,
    prior_design: int = 3,
    exploration_decay: bool = True,
    prior: Sequence[PriorTrial] = (),
    budget: int | None = None,
) -> optuna.samplers.BaseSampler:
    """Predictor-guided evolution on zero-cost graph features (GRAF, Kadlecová et al. 2024)."""
    return PredictorEvolutionSampler(
        space, n_startup_trials=n_startup_trials, predictor=predictor,
        ensemble_size=ensemble_size, exploration=exploration, top_k=top_k,
        pool_size=pool_size, n_generations=n_generations, exhaustive_limit=exhaustive_limit,
        features="graph", prior=prior, prior_design=prior_design, budget=budget,
        exploration_decay=exploration_decay, seed=seed,
    )
