"""Writing a running trial in few transactions, where Optuna commits every field on its own.

Optuna's RDB storage commits each ``suggest_*`` param, each ``set_user_attr``
and ``tell`` separately, each with its own locked read of the trial row: for a
tabular trial that is most of its cost. A :class:`TrialWriter` writes the same
rows with the same checks (the trial must still be RUNNING, a param keeps the
distribution it has in the study) in two transactions per trial:

* :meth:`TrialWriter.deferred_params`: the architecture's params, sampled as
  usual by the study's sampler, and the attrs that say who runs the trial;
* :meth:`TrialWriter.complete`: the result attrs, the objective values and the
  COMPLETE state, all or nothing: a crash leaves a RUNNING trial (failed and
  retried by the heartbeat), never a COMPLETE one without its results.

Other storages (in-memory, journal) get Optuna's own calls.

    writer = TrialWriter(study)
    trial = study.ask()
    with writer.deferred_params(trial, {"host": "node1:42"}):
        x = trial.suggest_int("x", 0, 9)
    writer.complete(trial, [x / 9], {"note": "done"})
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

__all__ = ["TrialWriter", "optuna_now"]


def optuna_now() -> datetime:
    """Now, as the installed Optuna stores trial times: naive UTC since Optuna 5, naive local before.

    Anything compared with or written next to ``datetime_start`` must use this,
    or a machine east or west of UTC is off by its offset.
    """
    return datetime.now(UTC).replace(tzinfo=None) if _optuna_stores_utc() else datetime.now()


@functools.cache
def _optuna_stores_utc() -> bool:
    # Optuna 5 maps the column to a private attribute behind a UTC-converting property.
    from optuna.storages._rdb import models

    trials = models.TrialModel.__table__
    column = models.TrialModel.__mapper__.get_property_by_column(trials.c.datetime_complete)
    return column.key != "datetime_complete"


class TrialWriter:
    """Batched writes of one study's running trials (see the module docstring)."""

    def __init__(self, study: optuna.Study) -> None:
        from nas.store._connect import rdb_backend

        self.study = study
        rdb = rdb_backend(study._storage)
        dialect = rdb.engine.name if rdb is not None else ""
        #: None where the storage is not SQLite or PostgreSQL: Optuna's calls are used.
        self._rdb = rdb if dialect in ("sqlite", "postgresql") else None
        self._sql = _Statements(dialect) if self._rdb is not None else None
        #: each param's distribution in the study, checked once per process as Optuna does.
        self._distributions: dict[str, Any] = {}

    @property
    def batched(self) -> bool:
        return self._rdb is not None

    @contextmanager
    def deferred_params(self, trial: optuna.Trial, attrs: Mapping[str, Any]) -> Iterator[None]:
        """Params suggested inside the block are written with ``attrs`` in one transaction.

        Sampling is unchanged (the sampler sees the trial's params as they are
        suggested); only the writes wait for the end of the block, which happens
        even when the block raises, so a rejected architecture keeps its params.
        """
        if self._rdb is None:
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            yield
            return
        buffer = _ParamBuffer(trial.storage)
        trial.storage = buffer
        try:
            yield
        finally:
            trial.storage = buffer.storage
            self._write_params(trial, buffer.params, attrs)

    def complete(self, trial: optuna.Trial, values: Sequence[float],
                 attrs: Mapping[str, Any]) -> None:
        """Write ``attrs`` and ``values`` and mark the trial COMPLETE, in one transaction.

        As ``study.tell`` does, the sampler's ``after_trial`` sees the trial
        first (with ``attrs``). Raises ``UpdateFinishedTrialError`` when the
        trial is no longer running (another worker failed it: heartbeat lost).
        """
        if self._rdb is None:
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            self.study.tell(trial, values)
            return
        from optuna import pruners
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.storages._rdb.models import TrialValueModel
        from optuna.trial import TrialState

        study, trial_id, sql = self.study, trial._trial_id, self._sql
        assert sql is not None
        values = [float(v) for v in values]
        if len(values) != len(study.directions):
            raise ValueError(f"{len(values)} values for {len(study.directions)} objectives")
        study._thread_local.cached_all_trials = None  # as tell: the trial cache is per trial
        # The trial as its sampler saw it (params, attrs and intermediate values kept by
        # the Trial, system attrs read lazily), not a fresh read of six tables as tell does.
        frozen = trial._get_latest_trial()
        frozen.user_attrs = {**frozen.user_attrs, **attrs}
        try:
            study.sampler.after_trial(
                pruners._filter_study(study, frozen), frozen, TrialState.COMPLETE, values
            )
        finally:
            rows = []
            for objective, value in enumerate(values):
                stored, value_type = TrialValueModel.value_to_stored_repr(value)
                rows.append({"trial_id": trial_id, "objective": objective,
                             "value": stored, "value_type": value_type})
            with self._rdb.engine.begin() as conn:
                # The guarded UPDATE first: it takes the write lock (the row's on
                # PostgreSQL, the database's on SQLite) and checks the state at once.
                if conn.execute(sql.finish, {"id": trial_id, "now": optuna_now()}).rowcount != 1:
                    raise UpdateFinishedTrialError(
                        f"Trial#{trial.number} has already finished and can not be updated."
                    )
                self._upsert_attrs(conn, trial_id, attrs)
                conn.execute(sql.upsert_values, rows)
        trial._cached_frozen_trial.user_attrs.update(attrs)

    # -- helpers ---------------------------------------------------------

    def _write_params(self, trial: optuna.Trial, params: list[tuple[str, float, Any]],
                      attrs: Mapping[str, Any]) -> None:
        from optuna import distributions
        from optuna.exceptions import UpdateFinishedTrialError

        assert self._rdb is not None and self._sql is not None
        trial_id, sql = trial._trial_id, self._sql
        # Core statements on a plain connection: the ORM session Optuna uses costs
        # more CPU than the round trips themselves.
        with self._rdb.engine.begin() as conn:
            row = conn.execute(sql.lock_trial, {"id": trial_id}).one_or_none()
            if row is None:
                raise KeyError(f"no trial with id {trial_id}")
            if row.state.is_finished():
                raise UpdateFinishedTrialError(
                    f"Trial#{trial.number} has already finished and can not be updated."
                )
            for name, _, distribution in params:
                previous = self._distributions.get(name)
                if previous is None:
                    found = conn.execute(sql.study_distribution,
                                         {"study": row.study_id, "name": name}).scalar()
                    previous = None if found is None else distributions.json_to_distribution(found)
                if previous is not None:
                    distributions.check_distribution_compatibility(previous, distribution)
            if params:
                conn.execute(sql.insert_params, [
                    {"trial_id": trial_id, "param_name": name, "param_value": value,
                     "distribution_json": distributions.distribution_to_json(distribution)}
                    for name, value, distribution in params
                ])
            self._upsert_attrs(conn, trial_id, attrs)
        for name, _, distribution in params:
            self._distributions.setdefault(name, distribution)
        trial._cached_frozen_trial.user_attrs.update(attrs)

    def _upsert_attrs(self, conn: Any, trial_id: int, attrs: Mapping[str, Any]) -> None:
        assert self._sql is not None
        if attrs:
            conn.execute(self._sql.upsert_attrs, [
                {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
                for key, value in attrs.items()
            ])


class _Statements:
    """The writer's statements, built once: executed with a list of rows, each is one
    cached statement (PostgreSQL sends one multi-row INSERT, SQLite one executemany)."""

    def __init__(self, dialect: str) -> None:
        import sqlalchemy as sa
        from optuna.storages._rdb import models
        from optuna.trial import TrialState

        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert

        trials = models.TrialModel.__table__
        params = models.TrialParamModel.__table__
        values = models.TrialValueModel.__table__
        attrs = models.TrialUserAttributeModel.__table__
        by_id = trials.c.trial_id == sa.bindparam("id")
        self.lock_trial = (  # FOR UPDATE locks the row on PostgreSQL; SQLite ignores it
            sa.select(trials.c.state, trials.c.study_id).where(by_id).with_for_update()
        )
        self.study_distribution = (
            sa.select(params.c.distribution_json)
            .join(trials, trials.c.trial_id == params.c.trial_id)
            .where(trials.c.study_id == sa.bindparam("study"),
                   params.c.param_name == sa.bindparam("name"))
            .limit(1)
        )
        self.insert_params = insert(params)
        self.finish = (
            sa.update(trials)
            .where(by_id, trials.c.state == TrialState.RUNNING)
            .values(state=TrialState.COMPLETE, datetime_complete=sa.bindparam("now"))
        )
        upsert = insert(values)
        self.upsert_values = upsert.on_conflict_do_update(
            index_elements=[values.c.trial_id, values.c.objective],
            set_={"value": upsert.excluded.value, "value_type": upsert.excluded.value_type},
        )
        upsert = insert(attrs)
        self.upsert_attrs = upsert.on_conflict_do_update(
            index_elements=[attrs.c.trial_id, attrs.c.key],
            set_={"value_json": upsert.excluded.value_json},
        )


class _ParamBuffer:
    """Stands in for a trial's storage while it samples: params are kept, the rest passes."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.params: list[tuple[str, float, Any]] = []

    def set_trial_param(self, trial_id: int, name: str, value: float, distribution: Any) -> None:
        self.params.append((name, value, distribution))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)
