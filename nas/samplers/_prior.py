"""What earlier studies know, as a prior for a new study's sampler (``warm_start``).

An earlier study over the same space (on another task, or with other
objectives) ranks architectures much as the new one will: on NAS-Bench-201
the CIFAR-10 and CIFAR-100 accuracies agree at Spearman 0.97. A
:class:`PriorTrial` carries one of its architectures and its score as a
normal quantile of its rank *within its own study* (a Gaussian copula), so
studies on tasks of different scale (94% on CIFAR-10, 47% on ImageNet16-120)
pool without one swamping the other.

Model-guided samplers that declare a ``prior`` parameter use it as the mean
of their predictor (:class:`PriorMean`); for every other sampler the search
enqueues the prior's best architectures as the first trials
(:func:`best_prior_archs`).

>>> prior = prior_trials([({"op": "a"}, 0.9), ({"op": "b"}, 0.5)])
>>> [p.params["op"] for p in sorted(prior, key=lambda p: -p.score)]
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PriorTrial", "PriorMean", "prior_trials", "best_prior_archs", "capped", "MAX_PRIOR_TRIALS",
           "ENQUEUED_PRIOR_ARCHS"]

#: A GP fit is cubic in its rows; beyond this many prior trials, evenly spaced ranks are kept.
MAX_PRIOR_TRIALS = 1000
#: How many of the prior's best architectures open a study whose sampler takes no prior
ENQUEUED_PRIOR_ARCHS = 3


@dataclass(frozen=True)
class PriorTrial:
    """One architecture of an earlier study; ``score``: its rank there as a normal quantile."""

    params: Mapping[str, Any]
    score: float


def prior_trials(scored: Iterable[tuple[Mapping[str, Any], float]]) -> list[PriorTrial]:
    """One study's ``(params, value)`` pairs, value higher = better, as copula-scored trials."""
    from nas.samplers._predictors import gaussian_copula

    pairs = [(dict(p), float(v)) for p, v in scored if np.isfinite(v)]
    if not pairs:
        return []
    scores = gaussian_copula(np.array([v for _, v in pairs]))
    return [PriorTrial(p, float(s)) for (p, _), s in zip(pairs, scores)]


def best_prior_archs(prior: Sequence[PriorTrial], k: int) -> list[dict[str, Any]]:
    """The ``k`` best distinct architectures of the prior, best first."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for trial in sorted(prior, key=lambda t: -t.score):
        best.setdefault(tuple(sorted((n, repr(v)) for n, v in trial.params.items())),
                        dict(trial.params))
        if len(best) >= k:
            break
    return list(best.values())


class PriorMean:
    """A predictor of this study's scores: the prior's fitted mean plus a model of the residuals.

    ``fit`` regresses the study's own (copula) scores on the prior model's
    prediction for the same architectures (slope clipped at zero: a prior that
    ranks this task backwards is ignored, not inverted), then fits
    ``fit_residual`` on what that line leaves. With fewer than three labels
    the slope is 1: the prior is trusted until the study can check it.
    ``predict`` returns ``(mean, spread)``, the spread being the residual
    model's: far from the study's own trials, the search explores where the
    prior is high.
    """

    def __init__(self, prior_model: Any, fit_residual: Callable[[np.ndarray, np.ndarray], Any]) -> None:
        self.prior_model = prior_model
        self.fit_residual = fit_residual

    def fit(self, features: np.ndarray, targets: np.ndarray) -> PriorMean:
        prior = self.prior_model.predict(features)[0]
        self.weight_ = 1.0
        if len(targets) >= 3 and np.var(prior) > 1e-12:
            slope = np.cov(prior, targets, bias=True)[0, 1] / np.var(prior)
            self.weight_ = float(max(slope, 0.0))
        self.residual_ = self.fit_residual(features, targets - self.weight_ * prior)
        return self

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prior = self.prior_model.predict(features)[0]
        mean, spread = self.residual_.predict(features)
        return self.weight_ * prior + mean, spread


def capped(prior: Sequence[PriorTrial]) -> list[PriorTrial]:
    """At most :data:`MAX_PRIOR_TRIALS` trials, evenly spaced over the prior's ranks."""
    if len(prior) <= MAX_PRIOR_TRIALS:
        return list(prior)
    ranked = sorted(prior, key=lambda t: -t.score)
    picks = np.unique(np.linspace(0, len(ranked) - 1, MAX_PRIOR_TRIALS).astype(int))
    return [ranked[i] for i in picks]
