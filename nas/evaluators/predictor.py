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
``pairwise``), ``min_labels`` (default 10).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.evaluators import EVALUATORS
from nas.evaluators._base import Evaluation, Evaluator

__all__ = ["PredictorEvaluator"]


@EVALUATORS.register("predictor")
class PredictorEvaluator(Evaluator):
    """Predicts where an architecture would rank among the study's complete trials."""

    name: ClassVar[str] = "predictor"
    provides: ClassVar[tuple[str, ...]] = ("predicted_rank",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from nas.predictors import MODELS

        self.reject_unknown_params(["model", "min_labels"])
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

    def evaluate(self, arch: Architecture, trial: Any = None) -> Evaluation:
        labelled = _labelled(self.space, trial)
        if len(labelled) < self.min_labels:
            return Evaluation({"predicted_rank": 1.0}, "predictor",
                              {"predictor_labels": len(labelled)})
        predictor, known = self._predictor(labelled)
        score = float(predictor.predict([arch])[0])
        rank = float(np.mean(known < score) + 0.5 * np.mean(known == score))
        return Evaluation({"predicted_rank": rank}, "predictor",
                          {"predictor_labels": len(labelled), "predictor_model": self.model})

    def _predictor(self, labelled: dict[int, tuple[Architecture, float]]) -> tuple[Any, np.ndarray]:
        """The model fitted on ``labelled`` and its scores of them (refitted when they change)."""
        from nas.predictors import PerformancePredictor

        numbers = frozenset(labelled)
        if self._fitted is None or len(numbers - self._fitted[0]) >= max(1, len(self._fitted[0]) // 10):
            archs = [labelled[n][0] for n in sorted(numbers)]
            values = [labelled[n][1] for n in sorted(numbers)]
            predictor = PerformancePredictor(self.space, model=self.model, seed=self.seed)
            predictor.fit(archs, values)
            self._fitted = (numbers, predictor, np.asarray(predictor.predict(archs)))
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
