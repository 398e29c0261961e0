"""``warm_start``: earlier studies over the same space as the prior of a new one.

A study file may name earlier studies in the same storage::

    warm_start = ["nb201-cifar10"]

Their complete trials whose architectures lie in this study's space become
the sampler's prior (:mod:`nas.samplers._prior`): a model-guided sampler that
declares ``prior`` (``predictor-evolution``, ``predictor-graph``) predicts
around it; for any other sampler the prior's best architectures are
enqueued as the study's first trials. The objective read from an earlier
study is the one with this study's first metric when it has it, else its
first, each in its own direction; only the order within each earlier study
is used, so tasks of different scale pool.

What a study was warm-started from is stored with it (user attr
``nas_warm_start``: source study -> trials used) and shown on the dashboard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nas.config import StudyConfig, config_from_study
from nas.errors import ConfigError, InvalidArchitecture
from nas.store import WARM_START_ATTR

if TYPE_CHECKING:
    import optuna

    from nas.samplers import PriorTrial

__all__ = ["WARM_START_ATTR", "load_prior", "record_warm_start"]


def load_prior(config: StudyConfig, storage: Any, space: Any) -> tuple[list[PriorTrial], dict[str, int]]:
    """The prior of ``config``'s study and how many trials each earlier study gave.

    Raises :class:`~nas.errors.ConfigError` (one line) when a named study does
    not exist, searched another space or has no complete trial in this space.
    """
    import optuna
    from optuna.trial import TrialState

    from nas.samplers import prior_trials

    known = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    prior: list[PriorTrial] = []
    used: dict[str, int] = {}
    for name in config.warm_start:
        if name not in known:
            raise ConfigError(f"warm_start: no study named '{name}' in this storage; "
                              f"studies: {', '.join(sorted(known - {config.name})) or 'none'}")
        study = optuna.load_study(study_name=name, storage=storage)
        earlier = config_from_study(study)
        if earlier.space.name != config.space.name:
            raise ConfigError(f"warm_start: study '{name}' searched space '{earlier.space.name}', "
                              f"this study searches '{config.space.name}'; a warm start needs "
                              "the same space")
        index, sign = _objective(config, earlier)
        scored = []
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            params = _within(space, trial.params)
            if params is not None and trial.values is not None:
                scored.append((params, sign * float(trial.values[index])))
        if not scored:
            raise ConfigError(f"warm_start: study '{name}' has no complete trial whose "
                              f"architecture lies in this study's '{config.space.name}' space")
        prior += prior_trials(scored)
        used[name] = len(scored)
    return prior, used


def record_warm_start(study: optuna.Study, used: dict[str, int]) -> None:
    """Store what a new study was warm-started from (read by ``nas show`` and the dashboard)."""
    study.set_user_attr(WARM_START_ATTR, dict(used))


def _objective(config: StudyConfig, earlier: StudyConfig) -> tuple[int, float]:
    """Index of the earlier study's objective to read, and +1/-1 to make higher better."""
    metric = config.metrics[0]
    index = earlier.metrics.index(metric) if metric in earlier.metrics else 0
    return index, 1.0 if earlier.directions[index] == "maximize" else -1.0


def _within(space: Any, params: dict[str, Any]) -> dict[str, Any] | None:
    """``params`` restricted to the space's choices, or None when the architecture lies outside."""
    choices = space.choices()
    mine = {n: v for n, v in params.items() if n in choices}
    try:
        space.validate({**space.default(), **mine})
    except InvalidArchitecture:
        return None
    return mine
