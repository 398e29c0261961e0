"""What the engine does with a running study beyond Optuna's public API, in one place.

The worker, the heartbeat, the samplers and the evaluators call these
functions with a public ``optuna.Study`` or ``optuna.Trial``; only this
package looks behind them (at the study's storage and ids). Torch-free, and
Optuna is imported on first use.
"""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    import sqlalchemy as sa
    from optuna.storages import RDBStorage
    from optuna.trial import FrozenTrial, TrialState

    from nas.store._storage import StudyStorage

__all__ = [
    "study_storage",
    "rdb_backend",
    "study_engine",
    "flush",
    "study_trials",
    "count_states",
    "within_budget",
]


def study_storage(study: optuna.Study) -> StudyStorage | None:
    """The :class:`~nas.store.StudyStorage` a study runs on, or None (in-memory, journal)."""
    from nas.store._storage import StudyStorage

    storage = study._storage
    return storage if isinstance(storage, StudyStorage) else None


def rdb_backend(storage: Any) -> RDBStorage | None:
    """The ``RDBStorage`` behind a storage (ours, or Optuna's cache around it), or None."""
    from optuna.storages import RDBStorage

    from nas.store._storage import StudyStorage

    if isinstance(storage, StudyStorage):
        return storage.backend
    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, RDBStorage) else None


def study_engine(study: optuna.Study) -> sa.Engine | None:
    """The SQL engine behind the study's storage, when it is an RDB one."""
    backend = rdb_backend(study._storage)
    return backend.engine if backend is not None else None


def flush(trial: optuna.Trial) -> None:
    """Write what the running ``trial`` has suggested and set so far, in one transaction.

    Call it once the architecture is sampled, before the long evaluation: a
    dead worker's trial is then re-queued with its params. A no-op where the
    storage wrote each at once (in-memory, journal).
    """
    storage = study_storage(trial.study)
    if storage is not None:
        storage.flush(trial._trial_id)


def study_trials(study: optuna.Study,
                 states: Container[TrialState] | None = None) -> list[FrozenTrial]:
    """The study's trials as the sampler of the running trial sees them (not copied).

    Optuna's own samplers read the trials through a snapshot taken once per
    trial: a sampler that reads them several times per trial gets the same
    list, and the store is read once (``study.get_trials`` reads it each time).
    """
    return study._get_trials(deepcopy=False, states=states, use_cache=True)


def count_states(study: optuna.Study) -> dict[str, int]:
    """Trials per state name (every ``TrialState``, zero where none)."""
    from optuna.trial import TrialState

    storage = study_storage(study)
    if storage is not None:  # one aggregate query instead of loading the trials
        return storage.count_states(study._study_id)
    counts = {s.name: 0 for s in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] += 1
    return counts


def within_budget(study: optuna.Study, number: int, n_trials: int) -> bool:
    """Whether trial ``number`` may run: fewer than ``n_trials`` lower-numbered trials
    are complete or running (Optuna numbers trials atomically: racing workers agree)."""
    from optuna.trial import TrialState

    storage = study_storage(study)
    if storage is not None:
        return storage.count_ahead(study._study_id, number) < n_trials
    states = (TrialState.COMPLETE, TrialState.RUNNING)
    ahead = [t for t in study.get_trials(deepcopy=False, states=states) if t.number < number]
    return len(ahead) < n_trials
