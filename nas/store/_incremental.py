"""Incremental reads for live views: a cheap change fingerprint and a refresh that re-reads only what moved.

A dashboard that polls a running search should not reload 10,000 trials every
few seconds. :func:`trials_fingerprint` answers "did anything change?" with one
aggregate query; :func:`refresh_trials` re-reads only the trials from the
oldest unfinished one onwards (a RUNNING trial's row changes when it
completes, so it cannot be skipped), keeping the finished rows it already has.
"""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa

from nas.store._read import load_trials, study_info

__all__ = ["trials_fingerprint", "refresh_trials", "param_distributions", "objective_ranges"]

_UNFINISHED = ("RUNNING", "WAITING")


def trials_fingerprint(engine: sa.Engine, study_name: str) -> tuple[object, ...]:
    """A tuple that changes whenever a trial of the study is added, finished or updated.

    ``(trial count, last trial id, finished count, last completion time, attr count,
    value count)``; attrs and values are counted because a worker writes them
    before it marks the trial complete.
    """
    sid = study_info(engine, study_name)["study_id"]
    with engine.connect() as conn:
        trials = conn.execute(
            sa.text(
                "SELECT COUNT(*), MAX(trial_id), "
                "SUM(CASE WHEN state IN ('COMPLETE','FAIL','PRUNED') THEN 1 ELSE 0 END), "
                "MAX(datetime_complete) FROM trials WHERE study_id = :s"
            ),
            {"s": sid},
        ).one()
        attrs = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM trial_user_attributes a JOIN trials t "
                "ON t.trial_id = a.trial_id WHERE t.study_id = :s"
            ),
            {"s": sid},
        ).scalar_one()
        values = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM trial_values v JOIN trials t "
                "ON t.trial_id = v.trial_id WHERE t.study_id = :s"
            ),
            {"s": sid},
        ).scalar_one()
    return (int(trials[0]), trials[1], int(trials[2] or 0), str(trials[3]), int(attrs), int(values))


def refresh_trials(
    engine: sa.Engine, study_name: str, cached: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``load_trials`` for the study, reusing the finished rows of ``cached``.

    Rows of ``cached`` up to (not including) its oldest unfinished trial are
    kept; everything from there on is read again. With no ``cached`` frame it
    is a full :func:`nas.store.load_trials`.
    """
    if cached is None or cached.empty:
        return load_trials(engine, study_name)
    unfinished = cached.loc[cached.state.isin(_UNFINISHED), "trial_id"]
    since = int(unfinished.min()) - 1 if len(unfinished) else int(cached.trial_id.max())
    kept = cached[cached.trial_id <= since]
    fresh = load_trials(engine, study_name, since_trial_id=since)
    if fresh.empty:
        return kept.reset_index(drop=True)
    if kept.empty:
        return fresh
    merged = pd.concat([kept, fresh], ignore_index=True, sort=False)
    return merged.sort_values("number", kind="stable").reset_index(drop=True)


def param_distributions(engine: sa.Engine, study_name: str) -> dict[str, dict[str, object]]:
    """``{param name: Optuna distribution as a JSON dict}`` for every parameter of the study.

    Used to rebuild trials for Optuna's importance evaluators without opening
    the study through Optuna's (writable) storage.
    """
    sid = study_info(engine, study_name)["study_id"]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT p.param_name, MAX(p.distribution_json) FROM trial_params p "
                "JOIN trials t ON t.trial_id = p.trial_id WHERE t.study_id = :s "
                "GROUP BY p.param_name"
            ),
            {"s": sid},
        ).all()
    return {name: json.loads(text) for name, text in rows}


def objective_ranges(engine: sa.Engine) -> pd.DataFrame:
    """Lowest and highest value of every objective of every study, over complete trials.

    One grouped query, so a study list can show best values without loading trials.
    Columns: ``study_id``, ``objective`` (index), ``low``, ``high``.
    """
    if not sa.inspect(engine).has_table("trial_values"):
        return pd.DataFrame(columns=["study_id", "objective", "low", "high"])
    with engine.connect() as conn:
        return pd.read_sql(
            sa.text(
                "SELECT t.study_id, v.objective, MIN(v.value) AS low, MAX(v.value) AS high "
                "FROM trial_values v JOIN trials t ON t.trial_id = v.trial_id "
                "WHERE t.state = 'COMPLETE' GROUP BY t.study_id, v.objective"
            ),
            conn,
        )
