"""Heartbeats and stale trials: noticing a dead worker and re-queueing its trial.

Every running trial has a heartbeat (Optuna's ``trial_heartbeats`` table)
that its worker refreshes every ``interval`` from a :class:`TrialHeartbeat`
thread. A worker killed with SIGKILL, or a machine that lost power, stops
beating; any other worker then fails the trial (:func:`fail_stale_trials`)
and re-queues its architecture (:class:`RetryStaleTrial`) at most
``max_retries`` times, with the reason in the attrs of both trials. The
timing rules are in :mod:`nas.search.heartbeat`.

Optuna only considers trials that have beaten at least once; a worker killed
between creating a trial and its first beat would leave a RUNNING trial
forever, holding a slot of the budget. :func:`fail_stale_trials` also fails
those once they are older than two grace periods.
"""

from __future__ import annotations

import copy
import logging
import threading
import warnings
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from nas.store._clock import optuna_now
from nas.store._study import study_storage

if TYPE_CHECKING:
    import optuna

__all__ = ["RetryStaleTrial", "fail_stale_trials", "heartbeat_interval", "TrialHeartbeat"]

log = logging.getLogger(__name__)


class RetryStaleTrial:
    """Re-queue a dead worker's trial with the same architecture, at most ``max_retries`` times.

    Wraps Optuna's ``RetryHeartbeatStaleTrialCallback`` (which keeps
    ``failed_trial``/``retry_history`` in the system attrs) but starts the
    new trial with clean user attrs: only ``retry_of`` and ``retry_reason``,
    never half-written results of the dead attempt.
    """

    def __init__(self, max_retries: int) -> None:
        from optuna import storages

        # Optuna 4.9 renamed RetryFailedTrialCallback (and deprecated the old name).
        retry = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
        retry = retry or storages.RetryFailedTrialCallback
        self.max_retries = max_retries
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental since v2.8": noise on every start
            self._optuna_retry = retry(max_retry=max_retries)

    def will_retry(self, trial: optuna.trial.FrozenTrial) -> bool:
        return len(trial.system_attrs.get("retry_history", [])) < self.max_retries

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        clean = copy.copy(trial)
        clean.user_attrs = {
            "retry_of": trial.number,
            "retry_reason": str(trial.user_attrs.get("error", "worker lost")),
        }
        self._optuna_retry(study, clean)


def heartbeat_interval(study: optuna.Study) -> float | None:
    """Seconds between a running trial's beats, or None where the storage has no heartbeats."""
    storage = study_storage(study)
    interval = storage.get_heartbeat_interval() if storage is not None else None
    return float(interval) if interval else None


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the study's trials whose worker died, and re-queue them; returns their numbers.

    Safe to call from every worker at once: only the caller whose state change
    succeeds runs the retry callback, so a trial is re-queued once.
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    storage = study_storage(study)
    interval = heartbeat_interval(study)
    if storage is None or interval is None:
        return []
    backend = storage.backend  # fresh reads and plain writes: these trials are not ours
    grace = float(storage.grace_period or 2 * interval)
    callback = storage.get_heartbeat_stale_trial_callback()
    stale = [(tid, f"worker lost: no heartbeat for more than {grace:g} s")
             for tid in storage._get_stale_trial_ids(study._study_id)]
    stale += [(tid, "worker lost before its first heartbeat")
              for tid in _never_beaten(storage.engine, study._study_id, 2 * grace)]
    failed = []
    for trial_id, reason in stale:
        trial = backend.get_trial(trial_id)
        if trial.state != TrialState.RUNNING:
            continue
        if isinstance(callback, RetryStaleTrial):
            reason += (f"; re-queued (retry {len(trial.system_attrs.get('retry_history', [])) + 1}"
                       f" of {callback.max_retries})" if callback.will_retry(trial)
                       else f"; not re-queued ({callback.max_retries} retries used)")
        try:
            backend.set_trial_user_attr(trial_id, "error", reason)
            if not backend.set_trial_state_values(trial_id, state=TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:
            continue  # another worker got there first, or the trial just finished
        storage.forget(trial_id)  # ours, if this process was the one that lost its beat
        log.warning("trial %d failed: %s", trial.number, reason)
        failed.append(trial.number)
        if callback is not None:
            callback(study, backend.get_trial(trial_id))
    return failed


def _never_beaten(engine: sa.Engine, study_id: int, older_than: float) -> list[int]:
    """RUNNING trials without any heartbeat, started more than ``older_than`` s ago."""
    cutoff = optuna_now() - timedelta(seconds=older_than)
    query = sa.text(
        "SELECT t.trial_id FROM trials t LEFT JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
        "WHERE t.study_id = :study AND t.state = 'RUNNING' AND h.trial_id IS NULL "
        "AND t.datetime_start < :cutoff"
    )
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(query, {"study": study_id, "cutoff": cutoff})]


class TrialHeartbeat:
    """Beats for one running trial every interval; looks for dead trials every half interval.

    A missed beat (database briefly unreachable) is only logged: the next one
    comes an interval later, and the grace period tolerates one late beat.
    Storages without heartbeats (in-memory, journal) get no thread.

        with TrialHeartbeat(study, trial):
            evaluate(trial)
    """

    def __init__(self, study: optuna.Study, trial: optuna.Trial) -> None:
        self._study = study
        self._storage = study_storage(study)
        self._trial_id = trial._trial_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        interval = heartbeat_interval(self._study)
        if interval is None or self._storage is None:
            return
        self._storage.record_heartbeat(self._trial_id)
        self._thread = threading.Thread(
            target=self._run, args=(interval,), daemon=True, name="nas-heartbeat"
        )
        self._thread.start()

    def _run(self, interval: float) -> None:
        assert self._storage is not None
        tick = 0
        while not self._stop.wait(interval / 2):
            tick += 1
            try:
                if tick % 2 == 0:
                    self._storage.record_heartbeat(self._trial_id)
                fail_stale_trials(self._study)
            except Exception:  # noqa: BLE001 - retried on the next tick
                log.debug("heartbeat tick failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> TrialHeartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
