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

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

__all__ = ["TrialWriter"]


class TrialWriter:
    """Batched writes of one study's running trials (see the module docstring)."""

    def __init__(self, study: optuna.Study) -> None:
        from nas.store._connect import rdb_backend

        self.study = study
        rdb = rdb_backend(study._storage)
        dialect = rdb.engine.name if rdb is not None else ""
        #: None where the storage is not SQLite or PostgreSQL: Optuna's calls are used.
        self._rdb = rdb if dialect in ("sqlite", "postgresql") else None
        self._dialect = dialect
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
        from optuna.trial import TrialState

        if self._rdb is None:
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            self.study.tell(trial, values)
            return
        import sqlalchemy as sa
        from optuna import pruners
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.storages._rdb import models

        study, trial_id = self.study, trial._trial_id
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
            trials = models.TrialModel.__table__
            finish = (
                sa.update(trials)
                .where(trials.c.trial_id == trial_id, trials.c.state == TrialState.RUNNING)
                # Optuna keeps trial times as naive UTC.
                .values(state=TrialState.COMPLETE,
                        datetime_complete=datetime.now(UTC).replace(tzinfo=None))
            )
            table = models.TrialValueModel.__table__
            rows = []
            for objective, value in enumerate(values):
                stored, value_type = models.TrialValueModel.value_to_stored_repr(value)
                rows.append({"trial_id": trial_id, "objective": objective,
                             "value": stored, "value_type": value_type})
            insert = self._insert(table).values(rows)
            insert = insert.on_conflict_do_update(
                index_elements=[table.c.trial_id, table.c.objective],
                set_={"value": insert.excluded.value, "value_type": insert.excluded.value_type},
            )
            with self._rdb.engine.begin() as conn:
                # The guarded UPDATE first: it takes the write lock (the row's on
                # PostgreSQL, the database's on SQLite) and checks the state at once.
                if conn.execute(finish).rowcount != 1:
                    raise UpdateFinishedTrialError(
                        f"Trial#{trial.number} has already finished and can not be updated."
                    )
                if attrs:
                    conn.execute(self._upsert_attrs(trial_id, attrs))
                conn.execute(insert)
        trial._cached_frozen_trial.user_attrs.update(attrs)

    # -- helpers ---------------------------------------------------------

    def _write_params(self, trial: optuna.Trial, params: list[tuple[str, float, Any]],
                      attrs: Mapping[str, Any]) -> None:
        import sqlalchemy as sa
        from optuna import distributions
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.storages._rdb import models

        assert self._rdb is not None
        trial_id = trial._trial_id
        trials = models.TrialModel.__table__
        # Core statements on a plain connection: the ORM session Optuna uses costs
        # more CPU than the round trip itself.
        with self._rdb.engine.begin() as conn:
            row = conn.execute(
                sa.select(trials.c.state, trials.c.study_id)
                .where(trials.c.trial_id == trial_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise KeyError(f"no trial with id {trial_id}")
            if row.state.is_finished():
                raise UpdateFinishedTrialError(
                    f"Trial#{trial.number} has already finished and can not be updated."
                )
            for name, _, distribution in params:
                previous = self._distributions.get(name) or _study_distribution(
                    conn, row.study_id, name)
                if previous is not None:
                    distributions.check_distribution_compatibility(previous, distribution)
            if params:
                conn.execute(self._insert(models.TrialParamModel.__table__).values([
                    {"trial_id": trial_id, "param_name": name, "param_value": value,
                     "distribution_json": distributions.distribution_to_json(distribution)}
                    for name, value, distribution in params
                ]))
            if attrs:
                conn.execute(self._upsert_attrs(trial_id, attrs))
        for name, _, distribution in params:
            self._distributions.setdefault(name, distribution)
        trial._cached_frozen_trial.user_attrs.update(attrs)

    def _insert(self, table: Any) -> Any:
        if self._dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def _upsert_attrs(self, trial_id: int, attrs: Mapping[str, Any]) -> Any:
        from optuna.storages._rdb import models

        table = models.TrialUserAttributeModel.__table__
        statement = self._insert(table).values([
            {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
            for key, value in attrs.items()
        ])
        return statement.on_conflict_do_update(
            index_elements=[table.c.trial_id, table.c.key],
            set_={"value_json": statement.excluded.value_json},
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


def _study_distribution(conn: Any, study_id: int, name: str) -> Any:
    """The distribution param ``name`` already has in the study, or None (Optuna's check)."""
    import sqlalchemy as sa
    from optuna import distributions
    from optuna.storages._rdb import models

    params, trials = models.TrialParamModel.__table__, models.TrialModel.__table__
    found = conn.execute(
        sa.select(params.c.distribution_json)
        .join(trials, trials.c.trial_id == params.c.trial_id)
        .where(trials.c.study_id == study_id, params.c.param_name == name)
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else distributions.json_to_distribution(found)
