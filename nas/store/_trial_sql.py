"""The SQL a :class:`~nas.store.StudyStorage` writes Optuna's trial tables with.

Core statements built once from Optuna's own table definitions (so the
columns are Optuna's), executed on a plain connection: the ORM session Optuna
uses costs more CPU than the round trips themselves.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from optuna.storages._rdb import models
from optuna.trial import TrialState

__all__ = ["TrialStatements"]


class TrialStatements:
    """The writer's statements, built once: executed with a list of rows, each is one
    cached statement (PostgreSQL sends one multi-row INSERT, SQLite one executemany)."""

    def __init__(self, dialect: str) -> None:
        from sqlalchemy.dialects import postgresql, sqlite

        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert

        trials = models.TrialModel.__table__
        params = models.TrialParamModel.__table__
        values = models.TrialValueModel.__table__
        attrs = models.TrialUserAttributeModel.__table__
        by_id = trials.c.trial_id == sa.bindparam("id")
        self.lock_trial = (  # FOR UPDATE locks the row on PostgreSQL; SQLite ignores it
            sa.select(trials.c.state, trials.c.study_id).where(by_id).with_for_update()
        )
        self.study_of = sa.select(trials.c.study_id).where(by_id)
        self.first_waiting = (
            sa.select(trials.c.trial_id)
            .where(trials.c.study_id == sa.bindparam("study"),
                   trials.c.state == TrialState.WAITING)
            .limit(1)
        )
        self.study_distribution = (
            sa.select(params.c.distribution_json)
            .join(trials, trials.c.trial_id == params.c.trial_id)
            .where(trials.c.study_id == sa.bindparam("study"),
                   params.c.param_name == sa.bindparam("name"))
            .limit(1)
        )
        self.insert_params = insert(params)
        # Popping a queued trial in one statement: Optuna reads the state, then writes it,
        # and on SQLite (which ignores FOR UPDATE) two workers can both read WAITING.
        self.claim_waiting = (
            sa.update(trials)
            .where(by_id, trials.c.state == TrialState.WAITING)
            .values(state=TrialState.RUNNING, datetime_start=sa.bindparam("now"))
        )
        self.finish = (
            sa.update(trials)
            .where(by_id, trials.c.state == TrialState.RUNNING)
            .values(state=sa.bindparam("state", type_=trials.c.state.type),
                    datetime_complete=sa.bindparam("now"))
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
