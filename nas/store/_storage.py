"""The one door to Optuna's storage: :class:`StudyStorage`, an Optuna ``BaseStorage``.

Every study the engine runs is opened on a :class:`StudyStorage` (see
:func:`nas.store.open_storage`). It wraps Optuna's ``RDBStorage`` the way
Optuna's own ``_CachedStorage`` does (and keeps that cache in front of it, so
samplers read the same trials as before), and owns what the engine needs
beyond Optuna's calls:

* **Batched trial writes.** Optuna's RDB storage commits each ``suggest_*``
  param and each ``set_user_attr`` on its own, with a locked read of the trial
  row each time: for a tabular trial that is most of its cost. For a trial
  this process runs (created or popped by ``study.ask``), params and user
  attrs are kept in memory and written in two transactions: :func:`flush`
  (the sampled architecture, before the evaluation, so a retry of a dead
  worker's trial has it) and ``study.tell`` (the result attrs, the values and
  the state, all or nothing: a crash leaves a RUNNING trial, failed and
  retried by the heartbeat, never a COMPLETE one without its results). The
  checks are Optuna's (the trial must still be RUNNING, a param keeps the
  distribution it has in the study), and ``get_trial`` answers with the
  pending writes, so samplers and ``tell`` see what Optuna's own writes
  would show. System attrs, intermediate values and heartbeats are written
  at once, as Optuna does.
* **Budget counts** (:func:`count_states`, :func:`within_budget`) and the
  check for an architecture evaluated before (:func:`evaluated_before`) in one
  aggregate query each, and an ``ask`` that reads the trial queue with one
  small query instead of every changed trial.
* **Stale trials**: heartbeats and their detection (``nas.store._heartbeat``).

SQLite and PostgreSQL get the batched writes; other RDB dialects get
Optuna's calls unchanged. The engine's other modules reach a study only
through Optuna's public API and the functions of :mod:`nas.store`.

    storage = open_storage("sqlite:///nas.db")
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    x = trial.suggest_int("x", 0, 9)
    trial.set_user_attr("host", "node1:42")
    flush(trial)                      # params and host: one transaction
    study.tell(trial, x / 9)          # attrs, values, COMPLETE: one transaction
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from optuna import distributions
from optuna.distributions import BaseDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage, RDBStorage, _CachedStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages._rdb import models
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from nas.store._clock import optuna_stamp
from nas.store._read import ARCH_KEY_ATTR, state_counts
from nas.store._trial_sql import TrialStatements

__all__ = ["StudyStorage"]

#: Trials this process finished that ``get_trial`` answers from memory (``tell`` reads its
#: trial back); finished trials never change.
_FINISHED_KEPT = 8
#: How long a count that found no WAITING trial answers ``ask``'s look at the queue.
_COUNT_FRESH_S = 1.0


@dataclass
class _RunningTrial:
    """A trial this process runs: the writes it has not sent yet, and the trial with them."""

    frozen: FrozenTrial | None = None
    params: list[tuple[str, float, Any]] = field(default_factory=list)
    user_attrs: dict[str, Any] = field(default_factory=dict)


class StudyStorage(BaseStorage, BaseHeartbeat):
    """Optuna's ``RDBStorage`` behind Optuna's cache, with batched writes of the trials we run."""

    def __init__(self, backend: RDBStorage) -> None:
        self.backend = backend
        self._cache = _CachedStorage(backend)
        dialect = backend.engine.dialect.name
        #: None where the dialect is neither SQLite nor PostgreSQL: Optuna's own writes.
        self._sql = TrialStatements(dialect) if dialect in ("sqlite", "postgresql") else None
        self._running: dict[int, _RunningTrial] = {}
        self._finished: dict[int, FrozenTrial] = {}
        #: study id -> when count_states last found no WAITING trial in it.
        self._none_waiting: dict[int, float] = {}
        #: each (study id, param)'s distribution, checked once per process as Optuna does.
        self._distributions: dict[tuple[int, str], BaseDistribution] = {}
        self._lock = threading.Lock()

    # -- what callers read besides Optuna's interface ------------------------

    @property
    def engine(self) -> sa.Engine:
        return self.backend.engine

    @property
    def url(self) -> str:
        return str(self.backend.url)

    @property
    def grace_period(self) -> float | None:
        return self.backend.grace_period

    @property
    def batched(self) -> bool:
        """Whether trials this process runs are written in batches (SQLite, PostgreSQL)."""
        return self._sql is not None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        state["_running"], state["_finished"], state["_none_waiting"] = {}, {}, {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- studies: Optuna's cache as it is -------------------------------------

    def create_new_study(self, directions: Sequence[StudyDirection],
                         study_name: str | None = None) -> int:
        return self._cache.create_new_study(directions, study_name)

    def delete_study(self, study_id: int) -> None:
        self._cache.delete_study(study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._cache.set_study_user_attr(study_id, key, value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._cache.set_study_system_attr(study_id, key, value)

    def get_study_id_from_name(self, study_name: str) -> int:
        return self._cache.get_study_id_from_name(study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._cache.get_study_name_from_id(study_id)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return self._cache.get_study_directions(study_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._cache.get_study_user_attrs(study_id)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._cache.get_study_system_attrs(study_id)

    def get_all_studies(self) -> list[Any]:
        return self._cache.get_all_studies()

    # -- trials ---------------------------------------------------------------

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = self._cache.create_new_trial(study_id, template_trial)
        if template_trial is None and self._sql is not None:  # a trial ask starts: ours
            with self._lock:
                self._running[trial_id] = _RunningTrial()
        return trial_id

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: BaseDistribution) -> None:
        running = self._running_trial(trial_id)
        if running is None:
            self._cache.set_trial_param(trial_id, param_name, param_value_internal, distribution)
            return
        with self._lock:
            running.params.append((param_name, param_value_internal, distribution))
            assert running.frozen is not None
            running.frozen.params[param_name] = distribution.to_external_repr(param_value_internal)
            running.frozen.distributions[param_name] = distribution

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        running = self._running_trial(trial_id)
        if running is None:
            self._cache.set_trial_user_attr(trial_id, key, value)
            return
        json.dumps(value)  # refuse what cannot be stored now, as Optuna's write would
        with self._lock:
            running.user_attrs[key] = value
            assert running.frozen is not None
            running.frozen.user_attrs[key] = value

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._cache.set_trial_system_attr(trial_id, key, value)
        running = self._running_trial(trial_id)
        if running is not None and running.frozen is not None:
            running.frozen.system_attrs[key] = value

    def set_trial_intermediate_value(self, trial_id: int, step: int,
                                     intermediate_value: float) -> None:
        self._cache.set_trial_intermediate_value(trial_id, step, intermediate_value)
        running = self._running_trial(trial_id)
        if running is not None and running.frozen is not None:
            running.frozen.intermediate_values[step] = intermediate_value

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Sequence[float] | None = None) -> bool:
        if state == TrialState.RUNNING and self._sql is not None:  # popped from the queue
            return self._claim(trial_id)
        with self._lock:
            running = self._running.get(trial_id)
        if running is None or not state.is_finished():
            return self._cache.set_trial_state_values(trial_id, state=state, values=values)
        try:
            self._finish(trial_id, running, state, values)
        finally:
            with self._lock:
                self._running.pop(trial_id, None)
        return True

    def _claim(self, trial_id: int) -> bool:
        """Pop a queued trial: WAITING to RUNNING in one UPDATE, so of two workers that
        both saw it queued exactly one gets it. Optuna's own pop reads the state and then
        writes it; on SQLite, which ignores FOR UPDATE, two threads both read WAITING and
        both ran the trial (stop 31: a resumed two-worker search crashed on its params)."""
        assert self._sql is not None
        with self.engine.begin() as conn:
            claimed = conn.execute(self._sql.claim_waiting,
                                   {"id": trial_id, "now": optuna_stamp()[0]}).rowcount == 1
        if claimed:
            with self._lock:
                self._running[trial_id] = _RunningTrial()
        return claimed

    def get_trial(self, trial_id: int) -> FrozenTrial:
        running = self._running_trial(trial_id)
        if running is None:
            with self._lock:
                finished = self._finished.get(trial_id)
            if finished is not None:
                return copy.deepcopy(finished)
            return self._cache.get_trial(trial_id)
        with self._lock:
            assert running.frozen is not None
            return copy.deepcopy(running.frozen)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self._cache.get_trial_id_from_study_id_trial_number(study_id, trial_number)

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        if self._sql is not None and _only_waiting(states) and not self._any_waiting(study_id):
            # Study.ask looks for a queued trial to pop: the budget count just taken, or
            # one small query, not a read of every trial changed since the last ask (a
            # sampler that needs them reads them). A trial queued meanwhile waits for
            # the next ask.
            return []
        return self._cache.get_all_trials(study_id, deepcopy=deepcopy, states=states)

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        return self._cache.get_best_trial(study_id)

    def remove_session(self) -> None:
        self.backend.remove_session()

    # -- heartbeats -----------------------------------------------------------

    def record_heartbeat(self, trial_id: int) -> None:
        self.backend.record_heartbeat(trial_id)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return self.backend._get_stale_trial_ids(study_id)

    def get_heartbeat_interval(self) -> int | None:
        return self.backend.get_heartbeat_interval()

    def get_heartbeat_stale_trial_callback(self) -> Callable[..., None] | None:
        return _stale_callback(self.backend)

    def get_failed_trial_callback(self) -> Callable[..., None] | None:
        # The name of the same getter before Optuna 4.9 (and abstract there).
        return _stale_callback(self.backend)

    # -- the batched writes ---------------------------------------------------

    def flush(self, trial_id: int) -> None:
        """Write the trial's pending params and user attrs now, in one transaction.

        The pending writes are taken first: a param the study refuses (another
        distribution) is dropped, as Optuna drops a refused ``suggest``.
        """
        running = self._running_trial(trial_id)
        if running is None:
            return
        params, attrs = self._take_pending(running)
        if not params and not attrs:
            return
        assert self._sql is not None
        with self.engine.begin() as conn:
            row = conn.execute(self._sql.lock_trial, {"id": trial_id}).one_or_none()
            if row is None:
                raise KeyError(f"no trial with id {trial_id}")
            if row.state.is_finished():
                self.forget(trial_id)  # another worker failed it: no longer ours
                raise UpdateFinishedTrialError(
                    f"Trial#{_number(running)} has already finished and can not be updated."
                )
            self._write_params(conn, trial_id, row.study_id, params)
            self._write_attrs(conn, trial_id, attrs)
        self._remember_distributions(row.study_id, params)

    def forget(self, trial_id: int) -> None:
        """Drop what this process holds of a trial that another writer finished."""
        with self._lock:
            self._running.pop(trial_id, None)

    def _running_trial(self, trial_id: int) -> _RunningTrial | None:
        with self._lock:
            running = self._running.get(trial_id)
        if running is not None and running.frozen is None:
            frozen = self._cache.get_trial(trial_id)  # the trial as it starts: one read
            with self._lock:
                if running.frozen is None:
                    running.frozen = frozen
        return running

    def _take_pending(self, running: _RunningTrial) -> tuple[list[Any], dict[str, Any]]:
        with self._lock:
            params, attrs = running.params, running.user_attrs
            running.params, running.user_attrs = [], {}
        return params, attrs

    def _finish(self, trial_id: int, running: _RunningTrial, state: TrialState,
                values: Sequence[float] | None) -> None:
        """Pending writes, values and the finished state in one transaction."""

        assert self._sql is not None
        params, attrs = self._take_pending(running)
        stored_now, read_now = optuna_stamp()
        rows = []
        for objective, value in enumerate(values or ()):
            stored, value_type = models.TrialValueModel.value_to_stored_repr(float(value))
            rows.append({"trial_id": trial_id, "objective": objective,
                         "value": stored, "value_type": value_type})
        with self.engine.begin() as conn:
            # The guarded UPDATE first: it takes the write lock (the row's on
            # PostgreSQL, the database's on SQLite) and checks the state at once.
            done = conn.execute(self._sql.finish,
                                {"id": trial_id, "state": state, "now": stored_now})
            if done.rowcount != 1:
                raise UpdateFinishedTrialError(
                    f"Trial#{_number(running)} has already finished and can not be updated."
                )
            study_id = None
            if params:
                study_id = conn.execute(self._sql.study_of, {"id": trial_id}).scalar_one()
                self._write_params(conn, trial_id, study_id, params)
            self._write_attrs(conn, trial_id, attrs)
            if rows:
                conn.execute(self._sql.upsert_values, rows)
        if study_id is not None:
            self._remember_distributions(study_id, params)
        self._keep_finished(running, state, values, read_now)

    def _keep_finished(self, running: _RunningTrial, state: TrialState,
                       values: Sequence[float] | None, completed: Any) -> None:
        """The trial as a read of it would now return it, for ``get_trial``."""
        trial = running.frozen
        if trial is None:
            return
        finished = FrozenTrial(
            number=trial.number, state=state, value=None,
            values=None if values is None else [float(v) for v in values],
            datetime_start=trial.datetime_start, datetime_complete=completed,
            params=trial.params, distributions=trial.distributions,
            user_attrs=trial.user_attrs, system_attrs=trial.system_attrs,
            intermediate_values=trial.intermediate_values, trial_id=trial._trial_id,
        )
        with self._lock:
            self._finished[trial._trial_id] = finished
            while len(self._finished) > _FINISHED_KEPT:
                del self._finished[next(iter(self._finished))]

    def _write_params(self, conn: sa.Connection, trial_id: int, study_id: int,
                      params: list[tuple[str, float, Any]]) -> None:
        assert self._sql is not None
        if not params:
            return
        for name, _, distribution in params:
            previous = self._distributions.get((study_id, name))
            if previous is None:
                found = conn.execute(self._sql.study_distribution,
                                     {"study": study_id, "name": name}).scalar()
                previous = None if found is None else distributions.json_to_distribution(found)
            if previous is not None:
                distributions.check_distribution_compatibility(previous, distribution)
        # Core statements on a plain connection: the ORM session Optuna uses costs
        # more CPU than the round trips themselves.
        conn.execute(self._sql.insert_params, [
            {"trial_id": trial_id, "param_name": name, "param_value": value,
             "distribution_json": distributions.distribution_to_json(distribution)}
            for name, value, distribution in params
        ])

    def _write_attrs(self, conn: sa.Connection, trial_id: int, attrs: dict[str, Any]) -> None:
        assert self._sql is not None
        if attrs:
            conn.execute(self._sql.upsert_attrs, [
                {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                for key, value in attrs.items()
            ])

    def _remember_distributions(self, study_id: int, params: list[tuple[str, float, Any]]) -> None:
        with self._lock:
            for name, _, distribution in params:
                self._distributions.setdefault((study_id, name), distribution)

    def _any_waiting(self, study_id: int) -> bool:
        assert self._sql is not None
        with self._lock:
            counted = self._none_waiting.pop(study_id, None)
        if counted is not None and time.monotonic() - counted < _COUNT_FRESH_S:
            return False
        with _reading(self.engine) as conn:
            return conn.execute(self._sql.first_waiting, {"study": study_id}).first() is not None

    # -- counts ---------------------------------------------------------------

    def count_states(self, study_id: int) -> dict[str, int]:
        """Trials per state name (every state, zero where none) and ``INTERRUPTED``
        (FAIL trials with attr ``nas_interrupted``, left out of FAIL): :func:`state_counts`."""
        with _reading(self.engine) as conn:
            counts = state_counts(conn, study_id)[study_id]
        if counts["WAITING"] == 0:
            with self._lock:
                self._none_waiting[study_id] = time.monotonic()
        return counts

    def evaluated_before(self, study_id: int, trial_id: int, arch_key: str) -> int | None:
        """See :func:`nas.store.evaluated_before`: one query."""
        with _reading(self.engine) as conn:
            return conn.execute(sa.text(
                "SELECT MIN(t.number) FROM trials t JOIN trial_user_attributes a "
                "ON a.trial_id = t.trial_id WHERE t.study_id = :s AND a.key = :key "
                "AND a.value_json = :v AND t.trial_id <> :me AND (t.state = 'COMPLETE' OR "
                "(t.state = 'RUNNING' AND a.trial_user_attribute_id < (SELECT "
                "trial_user_attribute_id FROM trial_user_attributes WHERE trial_id = :me "
                "AND key = :key)))"),
                {"s": study_id, "key": ARCH_KEY_ATTR, "v": json.dumps(arch_key), "me": trial_id},
            ).scalar()

    def count_ahead(self, study_id: int, number: int) -> int:
        """COMPLETE or RUNNING trials numbered below ``number``."""
        with _reading(self.engine) as conn:
            return int(conn.execute(sa.text(
                "SELECT COUNT(*) FROM trials WHERE study_id = :s AND number < :n "
                "AND state IN ('COMPLETE', 'RUNNING')"), {"s": study_id, "n": number}).scalar_one())


# -- helpers -------------------------------------------------------------------

def _stale_callback(backend: Any) -> Callable[..., None] | None:
    getter = getattr(backend, "get_heartbeat_stale_trial_callback", None)
    if getter is None:  # Optuna < 4.9
        getter = backend.get_failed_trial_callback
    return getter()


def _only_waiting(states: Container[TrialState] | None) -> bool:
    return isinstance(states, tuple | list | set | frozenset) and list(states) == [TrialState.WAITING]


def _number(running: _RunningTrial) -> object:
    return running.frozen.number if running.frozen is not None else "?"


def _reading(engine: sa.Engine) -> Any:
    """A connection for one read, in autocommit: no BEGIN and no ROLLBACK round trip
    (and psycopg drops its prepared statements on every ROLLBACK)."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
