"""The ``ladder`` evaluator: a multi-fidelity ladder of other evaluators, cheap to expensive.

Every candidate runs the first rung (e.g. a zero-cost proxy); a candidate
climbs to the next rung only while its score on the current rung is in the
best ``top_fraction`` of the scores that rung gave earlier trials (successive
halving without synchronisation, as ASHA, Li et al. 2020). A candidate that
stops below the last rung is PRUNED, with every figure it got kept in its
attrs; one that reaches the last rung completes with the last rung's metrics.
The promotion rule reads earlier trials' rung scores from the store (attr
``ladder_scores``), so any number of workers share one ladder.

Each trial records which fidelity produced each figure: attr
``fidelity_of`` = ``{metric: fidelity}`` (a figure measured at several rungs
keeps the highest one), ``ladder_rung`` (index of the last rung run) and
``ladder_scores`` (``{rung index: score}``).

Study file::

    [evaluator]
    name = "ladder"
    [[evaluator.params.rungs]]          # every candidate
    evaluator = "proxy"
    params = { proxies = ["nwot"] }
    score = "proxy_score"
    top_fraction = 0.25                 # best quarter climbs on
    [[evaluator.params.rungs]]          # the last rung gives the objectives
    evaluator = "tabular"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.evaluators import EVALUATORS
from nas.evaluators._base import Evaluation, Evaluator, FetchArtifact, Weights

__all__ = ["LadderEvaluator", "Rung"]

_RUNG_KEYS = ("evaluator", "params", "score", "top_fraction", "min_trials", "direction")


class Rung:
    """One rung: an evaluator, the metric that decides promotion, and the share promoted."""

    def __init__(self, index: int, spec: Mapping[str, Any], evaluator: Evaluator, last: bool) -> None:
        where = f"evaluator.params.rungs[{index}]"
        self.index = index
        self.evaluator = evaluator
        self.score: str | None = spec.get("score")
        self.top_fraction = float(spec.get("top_fraction", 1.0 if last else 0.5))
        self.min_trials = int(spec.get("min_trials", 4))
        self.direction = spec.get("direction", "maximize")
        if not 0 < self.top_fraction <= 1:
            raise ConfigError(f"{where}.top_fraction: must be in (0, 1], got {self.top_fraction}")
        if self.direction not in ("maximize", "minimize"):
            raise ConfigError(f"{where}.direction: allowed: maximize, minimize")
        if not last and self.score is None:
            raise ConfigError(f"{where}.score: required below the last rung (the metric that "
                              f"decides promotion), e.g. one of: {', '.join(evaluator.provides)}")
        if self.score is not None and evaluator.provides and self.score not in evaluator.provides:
            raise ConfigError(f"{where}.score: evaluator '{evaluator.name}' does not measure "
                              f"'{self.score}'; it measures: {', '.join(evaluator.provides)}")


@EVALUATORS.register("ladder")
class LadderEvaluator(Evaluator):
    """Runs its rungs in order and stops a candidate at the first rung it does not pass."""

    name: ClassVar[str] = "ladder"
    provides: ClassVar[tuple[str, ...]] = ()  # whatever the rungs measure

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reject_unknown_params(["rungs"])
        specs = self.params.get("rungs")
        if not isinstance(specs, list) or not specs:
            raise ConfigError("evaluator.params.rungs: a non-empty list of tables "
                              "{evaluator, params, score, top_fraction}")
        self.rungs: list[Rung] = []
        for i, spec in enumerate(specs):
            where = f"evaluator.params.rungs[{i}]"
            if not isinstance(spec, Mapping) or "evaluator" not in spec:
                raise ConfigError(f"{where}: a table with at least 'evaluator'")
            bad = [k for k in spec if k not in _RUNG_KEYS]
            if bad:
                raise ConfigError(f"{where}.{bad[0]}: unknown key; allowed: {', '.join(_RUNG_KEYS)}")
            if spec["evaluator"] == "ladder":
                raise ConfigError(f"{where}.evaluator: a ladder cannot contain a ladder")
            try:
                cls = EVALUATORS.get(spec["evaluator"])
            except ConfigError as exc:
                raise ConfigError(f"{where}.evaluator: {exc}") from None
            evaluator = cls(self.space, self.task, dict(spec.get("params", {})),
                            device=self.device, seed=self.seed)
            self.rungs.append(Rung(i, spec, evaluator, last=i == len(specs) - 1))

    def setup(self) -> None:
        for rung in self.rungs:
            rung.evaluator.setup()

    def evaluate(self, arch: Architecture, trial: Any = None) -> Evaluation:
        import optuna

        metrics: dict[str, float] = {}
        attrs: dict[str, Any] = {}
        fidelity_of: dict[str, str] = {}
        scores: dict[str, float] = {}
        history = _earlier_scores(trial)
        for rung in self.rungs:
            result = rung.evaluator.evaluate(arch, trial)
            metrics.update(result.metrics)
            attrs.update(result.attrs)
            fidelity_of.update(dict.fromkeys(result.metrics, result.fidelity))
            attrs.update(ladder_rung=rung.index, fidelity_of=dict(fidelity_of))
            if rung.score is None or rung is self.rungs[-1]:
                return Evaluation(metrics, result.fidelity, attrs)
            if rung.score not in result.metrics:
                raise ConfigError(f"evaluator.params.rungs[{rung.index}].score: '{rung.score}' "
                                  f"was not measured; got {', '.join(sorted(result.metrics))}")
            score = float(result.metrics[rung.score])
            scores[str(rung.index)] = score
            attrs["ladder_scores"] = dict(scores)
            if not _promoted(rung, score, history.get(str(rung.index), [])):
                if trial is not None:
                    for key, value in {**attrs, "metrics": metrics, "arch": arch.to_dict(),
                                       "arch_key": arch.key, "fidelity": result.fidelity}.items():
                        trial.set_user_attr(key, value)
                raise optuna.TrialPruned(f"rung {rung.index}: {rung.score} = {score:.4g} "
                                         f"not in the top {rung.top_fraction:.0%}")
        raise AssertionError("unreachable: the last rung returns")

    def weights_of(self, trial: Any, arch: Architecture, fetch: FetchArtifact) -> Weights | None:
        """The weights of the rung that gave the trial its result (attr ``ladder_rung``)."""
        rung = trial.user_attrs.get("ladder_rung")
        if rung is None or not 0 <= int(rung) < len(self.rungs):
            return None
        return self.rungs[int(rung)].evaluator.weights_of(trial, arch, fetch)


def _promoted(rung: Rung, score: float, earlier: list[float]) -> bool:
    if len(earlier) < rung.min_trials or rung.top_fraction >= 1:
        return True
    values = np.asarray(earlier, dtype=float)
    if rung.direction == "minimize":
        values, score = -values, -score
    threshold = np.quantile(values, 1.0 - rung.top_fraction)
    return bool(score >= threshold)


def _earlier_scores(trial: Any) -> dict[str, list[float]]:
    """Rung scores of every earlier trial of the study: ``{rung index: [scores]}``."""
    if trial is None or getattr(trial, "study", None) is None:
        return {}
    from optuna.trial import TrialState

    out: dict[str, list[float]] = {}
    for other in trial.study.get_trials(deepcopy=False,
                                        states=(TrialState.COMPLETE, TrialState.PRUNED)):
        for rung, score in (other.user_attrs.get("ladder_scores") or {}).items():
            out.setdefault(str(rung), []).append(float(score))
    return out
