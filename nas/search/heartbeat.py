"""Heartbeats: noticing a dead worker and re-queueing its trial.

Every running trial has a heartbeat (Optuna's ``trial_heartbeats`` table)
that its worker refreshes every ``interval`` from a background thread. A
worker killed with SIGKILL, or a machine that lost power, stops beating; any
other worker then fails the trial and re-queues its architecture (Optuna's
``RetryHeartbeatStaleTrialCallback``) at most ``max_retries`` times, with the
reason in the attrs of both trials.

Timing: a trial is stale once its last beat is older than ``grace`` (1.5
intervals, so one late beat is tolerated) and every worker looks for stale
trials every ``interval / 2`` (from its heartbeat thread while a trial runs,
between trials otherwise). A dead worker's trial is therefore failed at most
``grace + interval / 2 = 2 * interval`` after its last beat, that is within two
heartbeat intervals of the death.

SQLite stores heartbeats with one-second resolution (``CURRENT_TIMESTAMP``),
so on SQLite the grace period is at least ``interval + 1.5`` s
(:func:`nas.search.study.storage_for`): a beating trial is never mistaken for a dead
one because of rounding. With the default 5 s interval this changes nothing.

Optuna only considers trials that have beaten at least once; a worker killed
between creating a trial and its first beat would leave a RUNNING trial
forever, holding a slot of the budget. :func:`fail_dead_trials` also fails
those once they are older than two grace periods.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from nas.errors import ConfigError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "HEARTBEAT_INTERVAL_S",
    "MAX_RETRIES",
    "HeartbeatSettings",
    "heartbeat_settings",
    "RetryStaleTrial",
    "fail_dead_trials",
    "TrialHeartbeat",
]

log = logging.getLogger(__name__)

#: Defaults; ``$NAS_HEARTBEAT_INTERVAL_S`` and ``$NAS_HEARTBEAT_GRACE_S`` override them.
HEARTBEAT_INTERVAL_S = 5.0
MAX_RETRIES = 2


@dataclass(frozen=True)
class HeartbeatSettings:
    interval: float
    grace: float
    max_retries: int = MAX_RETRIES

    @property
    def check_every(self) -> float:
        return self.interval / 2


def heartbeat_settings() -> HeartbeatSettings:
    """The settings for this process (environment, else the defaults)."""
    interval = _env_seconds("NAS_HEARTBEAT_INTERVAL_S", HEARTBEAT_INTERVAL_S)
    grace = _env_seconds("NAS_HEARTBEAT_GRACE_S", 1.5 * interval)
    if grace <= interval:
        raise ConfigError(
            f"NAS_HEARTBEAT_GRACE_S = {grace:g} must exceed the heartbeat interval ({interval:g} s)"
        )
    return HeartbeatSettings(interval=interval, grace=grace)


def _retry_base() -> type:
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    return RetryHeartbeatStaleTrialCallback


class RetryStaleTrial:
    """Re-queue a dead worker's trial with the same architecture, at most ``max_retries`` times.

    Wraps Optuna's ``RetryHeartbeatStaleTrialCallback`` (which keeps
    ``failed_trial``/``retry_history`` in the system attrs) but starts the
    new trial with clean user attrs: only ``retry_of`` and ``retry_reason``,
    never half-written results of the dead attempt.
    """

    def __init__(self, max_retries: int = MAX_RETRIES) -> None:
        self.max_retries = max_retries
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental since v2.8": noise on every start
            self._optuna_retry = _retry_base()(max_retry=max_retries)

    def will_retry(self, trial: optuna.trial.FrozenTrial) -> bool:
        return len(trial.system_attrs.get("retry_history", [])) < self.max_retries

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        import copy

        clean = copy.copy(trial)
        clean.user_attrs = {
            "retry_of": trial.number,
            "retry_reason": str(trial.user_attrs.get("error", "worker lost")),
        }
        self._optuna_retry(study, clean)


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Fail the study's trials whose worker died, and re-queue them; returns their numbers.

    Safe to call from every worker at once: only the caller whose state change
    succeeds runs the retry callback, so a trial is re-queued once.
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.storages._heartbeat import BaseHeartbeat
    from optuna.trial import TrialState

    storage = study._storage
    if not isinstance(storage, BaseHeartbeat) or not storage.get_heartbeat_interval():
        return []
    from nas.store import rdb_backend

    backend = rdb_backend(storage)
    grace = float(getattr(backend, "grace_period", None) or 2 * storage.get_heartbeat_interval())
    callback = storage.get_heartbeat_stale_trial_callback()
    stale = [(tid, f"worker lost: no heartbeat for more than {grace:g} s")
             for tid in storage._get_stale_trial_ids(study._study_id)]
    stale += [(tid, "worker lost before its first heartbeat")
              for tid in _never_beaten(storage, study._study_id, 2 * grace)]
    failed = []
    for trial_id, reason in stale:
        trial = storage.get_trial(trial_id)
        if trial.state != TrialState.RUNNING:
            continue
        if isinstance(callback, RetryStaleTrial):
            reason += (f"; re-queued (retry {len(trial.system_attrs.get('retry_history', [])) + 1}"
                       f" of {callback.max_retries})" if callback.will_retry(trial)
                       else f"; not re-queued ({callback.max_retries} retries used)")
        try:
            storage.set_trial_user_attr(trial_id, "error", reason)
            if not storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:
            continue  # another worker got there first, or the trial just finished
        log.warning("trial %d failed: %s", trial.number, reason)
        failed.append(trial.number)
        if callback is not None:
            callback(study, storage.get_trial(trial_id))
    return failed


def _never_beaten(storage: Any, study_id: int, older_than: float) -> list[int]:
    """RUNNING trials without any heartbeat, started more than ``older_than`` s ago."""
    import sqlalchemy as sa

    from nas.store import optuna_now

    cutoff = optuna_now() - timedelta(seconds=older_than)
    query = sa.text(
        "SELECT t.trial_id FROM trials t LEFT JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
        "WHERE t.study_id = :study AND t.state = 'RUNNING' AND h.trial_id IS NULL "
        "AND t.datetime_start < :cutoff"
    )
    from nas.store import rdb_backend

    engine = rdb_backend(storage).engine
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(query, {"study": study_id, "cutoff": cutoff})]


class TrialHeartbeat:
    """Beats for one running trial every interval; looks for dead trials every half interval.

    A missed beat (database briefly unreachable) is only logged: the next one
    comes an interval later, and the grace period tolerates one late beat.
    """

    def __init__(self, study: optuna.Study, trial_id: int) -> None:
        self._study = study
        self._storage = study._storage
        self._trial_id = trial_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Optuna wraps RDBStorage in a cache that has the getter but not the attribute;
        # in-memory and journal storages have neither, and no heartbeats.
        getter = getattr(self._storage, "get_heartbeat_interval", None)
        interval = getter() if getter is not None else None
        if not interval:
            return
        self._storage.record_heartbeat(self._trial_id)
        self._thread = threading.Thread(
            target=self._run, args=(float(interval),), daemon=True, name="nas-heartbeat"
        )
        self._thread.start()

    def _run(self, interval: float) -> None:
        tick = 0
        while not self._stop.wait(interval / 2):
            tick += 1
            try:
                if tick % 2 == 0:
                    self._storage.record_heartbeat(self._trial_id)
                fail_dead_trials(self._study)
            except Exception:  # noqa: BLE001 - retried on the next tick
                log.debug("heartbeat tick failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} = {raw!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ConfigError(f"{name} = {raw!r} must be a positive number of seconds")
    return value
