"""The ``predictor`` evaluator: a learned model of the study's own results, as a fidelity.

It scores an architecture by :class:`~nas.predictors.PerformancePredictor`
(zero-cost graph features of :mod:`nas.features`, a pairwise ranker by
default) fitted on the study's complete trials: their architectures and their
first objective. Nothing is trained or run, so it costs milliseconds once
fitted; the model (a second or so to fit) is refitted when the study's complete
trials have grown by a tenth since the last fit, not on every new one.

Its one metric, ``predicted_rank``, is the share of the study's complete
trials the candidate is predicted to beat (0 to 1, higher = better). That
scale does not drift as the study grows, so it is a sound promotion score
for a rung of the ``ladder`` evaluator (whose last rung then gives the
complete trials it learns from)::

    [evaluator]
    name = "ladder"
    [[evaluator.params.rungs]]
    evaluator = "predictor"
    score = "predicted_rank"
    top_fraction = 0.3          # the predicted best 30% are trained
    [[evaluator.params.rungs]]
    evaluator = "train"

Until the study has ``min_labels`` complete trials the evaluator knows
nothing and says ``predicted_rank = 1.0``: every candidate climbs on.

Parameters: ``model`` (``pairwise``, ``gbm``, ``rf``, ``gp``; default
``pairwise``), ``min_labels`` (default 10), and zero-cost proxy features
beside the graph features: ``proxies`` (a list of proxy names, each one
column) and ``ensemble`` (the name of one of
:data:`proxies.ensembles.NAMED_ENSEMBLES`: its share of the population the
proxy cache has scored, one more column). The scores come from the proxy
evaluator's cache (``batch_size``, ``batch_seed`` and ``cache`` as there), so
after a ``proxy`` rung with the same proxies they cost one query. On
NAS-Bench-201 the proxies and ``vkdnw_meco_jacob_flops`` lift the ranking
from 100 labels from 0.952 to 0.962 and from 25 labels from 0.887 to 0.934
(``nas bench predictor --ensembles``, ``benchmarks/README.md``).

    [[evaluator.params.rungs]]
    evaluator = "predictor"
    params = { proxies = ["synflow", "jacob_cov", "nwot", "meco"], ensemble = "vkdnw_meco_jacob_flops" }
    score = "predicted_rank"
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.evaluators import EVALUATORS
from nas.evaluators._base import Evaluation, Evaluator

__all__ = ["PredictorEvaluator"]

#: parameters passed on to the proxy evaluators behind the proxy columns
_PROXY_PARAMS = ("proxies", "ensemble", "batch_size", "batch_seed", "cache")


@EVALUATORS.register("predictor")
class PredictorEvaluator(Evaluator):
    """Predicts where an architecture would rank among the study's complete trials."""

    name: ClassVar[str] = "predictor"
    provides: ClassVar[tuple[str, ...]] = ("predicted_rank",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from nas.predictors import MODELS

        self.reject_unknown_params(["model", "min_labels", *_PROXY_PARAMS])
        self.model = str(self.params.get("model", "pairwise"))
        if self.model not in MODELS:
            raise ConfigError(f"evaluator.params.model: unknown predictor model '{self.model}'; "
                              f"allowed: {', '.join(MODELS)}")
        self.min_labels = self.params.get("min_labels", 10)
        if not isinstance(self.min_labels, int) or isinstance(self.min_labels, bool) \
                or self.min_labels < 2:
            raise ConfigError(f"evaluator.params.min_labels: must be a whole number of 2 or "
                              f"more, got {self.min_labels!r}")
        #: (trial numbers it was fitted on, the fitted predictor, its scores of those trials)
        self._fitted: tuple[frozenset[int], Any, np.ndarray] | None = None
        self._raw, self._ensemble = self._proxy_evaluators()

    def setup(self) -> None:
        for inner in (self._raw, self._ensemble):
            if inner is not None:
                inner.setup()

    def _proxy_evaluators(self) -> tuple[Any, Any]:
        """Proxy evaluators for the raw proxy columns and the ensemble column (``None``: none)."""
        from nas.evaluators.proxy import ProxyEvaluator
        from proxies.ensembles import NAMED_ENSEMBLES

        names = self.params.get("proxies", [])
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"evaluator.params.proxies: a proxy name or a list of names, got {names!r}")
        ensemble = self.params.get("ensemble")
        if ensemble is not None and ensemble not in NAMED_ENSEMBLES:
            raise ConfigError(f"evaluator.params.ensemble: unknown '{ensemble}'; allowed: "
                              f"{', '.join(NAMED_ENSEMBLES)}")
        shared = {k: self.params[k] for k in ("batch_size", "batch_seed", "cache") if k in self.params}

        def inner(params: dict[str, Any], scores_only: bool = False) -> Any:
            return ProxyEvaluator(self.space, self.task, {**params, **shared},
                                  device=self.device, seed=self.seed, scores_only=scores_only)

        raw = inner({"proxies": names}, scores_only=True) if names else None
        return raw, inner({"ensemble": ensemble}) if ensemble is not None else None

    def _extra(self, archs: list[Architecture], trial: Any) -> np.ndarray | None:
        """The proxy columns of ``archs`` (``NaN`` where a proxy gave no score), or ``None``."""
        if self._raw is None and self._ensemble is None:
            return None
        parts: list[np.ndarray] = []
        if self._raw is not None:
            scored = self._raw.scores_of(archs, trial)
            parts.append(np.asarray([[np.nan if scored[a.key][n] is None else float(scored[a.key][n])
                                      for n in self._raw.proxies] for a in archs], dtype=np.float64))
        if self._ensemble is not None:  # one read of the population for all of them
            parts.append(np.asarray(self._ensemble.ensemble_values(archs, trial))[:, None])
        return np.hstack(parts)

    def evaluate(self, arch: Architecture, trial: Any = None) -> Evaluation:
        labelled = _labelled(self.space, trial)
        if len(labelled) < self.min_labels:
            return Evaluation({"predicted_rank": 1.0}, "predictor",
                              {"predictor_labels": len(labelled)})
        predictor, known = self._predictor(labelled, trial)
        score = float(predictor.predict([arch], self._extra([arch], trial))[0])
        rank = float(np.mean(known < score) + 0.5 * np.mean(known == score))
        attrs: dict[str, Any] = {"predictor_labels": len(labelled), "predictor_model": self.model}
        if self._raw is not None or self._ensemble is not None:
            attrs["predictor_proxies"] = [*(self._raw.proxies if self._raw is not None else []),
                                          *([self.params["ensemble"]] if self._ensemble is not None else [])]
        return Evaluation({"predicted_rank": rank}, "predictor", attrs)

    def _predictor(self, labelled: dict[int, tuple[Architecture, float]],
                   trial: Any) -> tuple[Any, np.ndarray]:
        """The model fitted on ``labelled`` and its scores of them (refitted when they change)."""
        from nas.predictors import PerformancePredictor

        numbers = frozenset(labelled)
        if self._fitted is None or len(numbers - self._fitted[0]) >= max(1, len(self._fitted[0]) // 10):
            archs = [labelled[n][0] for n in sorted(numbers)]
            values = [labelled[n][1] for n in sorted(numbers)]
            extra = self._extra(archs, trial)
            predictor = PerformancePredictor(self.space, model=self.model, seed=self.seed)
            predictor.fit(archs, values, extra)
            self._fitted = (numbers, predictor, np.asarray(predictor.predict(archs, extra)))
        return self._fitted[1], self._fitted[2]


def _labelled(space: Any, trial: Any) -> dict[int, tuple[Architecture, float]]:
    """The study's complete trials: number -> (architecture, first objective, higher = better)."""
    study = getattr(trial, "study", None)
    if study is None:
        return {}
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    sign = 1.0 if study.directions[0] == StudyDirection.MAXIMIZE else -1.0
    out: dict[int, tuple[Architecture, float]] = {}
    for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if other.values is None:
            continue
        arch = other.user_attrs.get("arch") or other.params
        try:
            out[other.number] = (space.validate({**space.default(), **arch}),
                                 sign * float(other.values[0]))
        except (ValueError, TypeError):  # outside today's space (narrowed since): not a label
            continue
    return out
