"""Torch-free reads of Optuna's tables, with a few vectorised SQL queries.

Reading ``study.trials`` through Optuna costs seconds for large studies; these
functions read the tables directly into pandas (DESIGN.md, "Costs"), decode
parameters with Optuna's distribution JSON, and compute Pareto fronts with
numpy. They accept an engine from :func:`nas.store.read_engine`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from nas.dominance import pareto_mask
from nas.errors import StorageError

__all__ = [
    "INTERRUPTED_ATTR",
    "list_studies",
    "study_info",
    "load_trials",
    "pareto_mask",
    "pareto_front",
    "objective_columns",
    "ARCH_KEY_ATTR",
    "DUPLICATE_ATTR",
    "INTERRUPTED",
]

STATES = ("COMPLETE", "RUNNING", "FAIL", "PRUNED", "WAITING")


#: trial user attr of a trial cut by Ctrl-C or SIGTERM (state FAIL in Optuna, not a failure)
INTERRUPTED_ATTR = "nas_interrupted"
#: the key :func:`nas.store.count_states` counts those trials under (apart from FAIL)
INTERRUPTED = "INTERRUPTED"
#: trial user attr naming the trial's architecture (``Architecture.key``), written with
#: its params: the claim :func:`nas.store.evaluated_before` reads
ARCH_KEY_ATTR = "arch_key"
#: trial user attr of a trial closed (PRUNED) without evaluation: its architecture is that
#: of the COMPLETE trial with this number, so no budget is spent on it twice
DUPLICATE_ATTR = "nas_duplicate_of"
#: study user attr of a warm-started study (``warm_start``): {earlier study: trials used}
WARM_START_ATTR = "nas_warm_start"


def list_studies(engine: sa.Engine) -> pd.DataFrame:
    """One row per study: name, directions, trial counts by state, attrs, last update.

    ``fail`` counts failed evaluations only; trials cut by an interrupt (attr
    ``nas_interrupted``) are counted in ``interrupted`` instead.
    """
    if not _has_optuna_tables(engine):
        return pd.DataFrame(columns=["study_id", "study_name", "directions", *(
            s.lower() for s in STATES), "interrupted", "last_update"])
    with engine.connect() as conn:
        studies = pd.read_sql(sa.text("SELECT study_id, study_name FROM studies"), conn)
        directions = pd.read_sql(
            sa.text("SELECT study_id, objective, direction FROM study_directions"), conn
        )
        counts = state_counts(conn)
        updates = pd.read_sql(
            sa.text(
                "SELECT study_id, MAX(COALESCE(datetime_complete, datetime_start)) AS last "
                "FROM trials GROUP BY study_id"
            ),
            conn,
        )
        attrs = pd.read_sql(
            sa.text("SELECT study_id, key, value_json FROM study_user_attributes"), conn
        )
    rows = []
    for study in studies.itertuples():
        dirs = directions[directions.study_id == study.study_id].sort_values("objective")
        row: dict[str, Any] = {
            "study_id": study.study_id,
            "study_name": study.study_name,
            "directions": [d.lower() for d in dirs.direction],
        }
        for state, n in counts[study.study_id].items():
            row[state.lower()] = n
        last = updates[updates.study_id == study.study_id]["last"]
        row["last_update"] = pd.to_datetime(last).max() if len(last) else pd.NaT
        for a in attrs[attrs.study_id == study.study_id].itertuples():
            row[a.key] = json.loads(a.value_json)
        rows.append(row)
    return pd.DataFrame(rows)


def state_counts(conn: sa.Connection, study_id: int | None = None) -> dict[int, dict[str, int]]:
    """Trials per study id and state name, in one query: every state of ``STATES`` and
    ``INTERRUPTED``, zero where none (a study without trials reads as all zeros).

    A trial cut by Ctrl-C or SIGTERM is FAIL in Optuna's terms, but nothing failed: FAIL
    trials with attr ``nas_interrupted`` count under ``INTERRUPTED``, not ``FAIL``. The one
    counter of :func:`nas.store.count_states` (one study) and :func:`list_studies` (all).

        state_counts(conn, 1)[1]  # {"COMPLETE": 4, "RUNNING": 0, ..., "INTERRUPTED": 1}
    """
    params: dict[str, Any] = {"key": INTERRUPTED_ATTR}
    where = ""
    if study_id is not None:  # the budget counts one study: no need to read the others
        params["s"] = study_id
        where = "WHERE t.study_id = :s "
    rows = conn.execute(sa.text(
        "SELECT t.study_id, t.state, a.trial_id IS NOT NULL AS cut, COUNT(*) FROM trials t "
        "LEFT JOIN trial_user_attributes a ON a.trial_id = t.trial_id AND a.key = :key "
        f"AND t.state = 'FAIL' {where}GROUP BY t.study_id, t.state, cut"), params)
    counts: defaultdict[int, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys((*STATES, INTERRUPTED), 0))
    for study, state, cut, n in rows:
        counts[study][INTERRUPTED if cut else str(state)] += int(n)
    return counts


def study_info(engine: sa.Engine, study_name: str) -> dict[str, Any]:
    """``{"study_id", "directions", "objectives", **user_attrs}`` of one study."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT study_id FROM studies WHERE study_name = :n"), {"n": study_name}
        ).first() if _has_optuna_tables(engine) else None
        if found is None:
            raise StorageError(f"no study named '{study_name}' in this storage")
        study_id = found[0]
        dirs = conn.execute(
            sa.text(
                "SELECT direction FROM study_directions WHERE study_id = :s ORDER BY objective"
            ),
            {"s": study_id},
        ).scalars().all()
        attrs = {
            k: json.loads(v)
            for k, v in conn.execute(
                sa.text("SELECT key, value_json FROM study_user_attributes WHERE study_id = :s"),
                {"s": study_id},
            )
        }
    directions = [d.lower() for d in dirs]
    objectives = attrs.get("objectives") or [f"value_{i}" for i in range(len(directions))]
    return {"study_id": study_id, "directions": directions, **attrs, "objectives": objectives}


def load_trials(engine: sa.Engine, study_name: str, since_trial_id: int = 0) -> pd.DataFrame:
    """One row per trial: number, state, times, one column per objective, ``param_*``, attrs.

    Objective columns are named by the study's metrics (``val_accuracy``,
    ``params``); user attrs become columns too (``arch`` stays a JSON string).
    ``since_trial_id`` lets callers load only newer trials (incremental refresh).
    """
    info = study_info(engine, study_name)
    sid, objectives = info["study_id"], info["objectives"]
    query = {"s": sid, "t": since_trial_id}
    with engine.connect() as conn:
        trials = pd.read_sql(
            sa.text(
                "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
                "WHERE study_id = :s AND trial_id > :t ORDER BY number"
            ),
            conn, params=query,
        )
        values = pd.read_sql(
            sa.text(
                "SELECT v.trial_id, v.objective, v.value, v.value_type FROM trial_values v "
                "JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = :s AND t.trial_id > :t"
            ),
            conn, params=query,
        )
        params = pd.read_sql(
            sa.text(
                "SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json "
                "FROM trial_params p JOIN trials t ON t.trial_id = p.trial_id "
                "WHERE t.study_id = :s AND t.trial_id > :t"
            ),
            conn, params=query,
        )
        attrs = pd.read_sql(
            sa.text(
                "SELECT a.trial_id, a.key, a.value_json FROM trial_user_attributes a "
                "JOIN trials t ON t.trial_id = a.trial_id WHERE t.study_id = :s AND t.trial_id > :t"
            ),
            conn, params=query,
        )
    frame = trials.set_index("trial_id")
    frame["datetime_start"] = pd.to_datetime(frame["datetime_start"])
    frame["datetime_complete"] = pd.to_datetime(frame["datetime_complete"])
    frame["duration_s"] = (frame.datetime_complete - frame.datetime_start).dt.total_seconds()
    if len(values):
        values["value"] = values["value"].where(values.value_type == "FINITE",
                                                values.value_type.map(_INF).astype(float))
        wide = values.pivot(index="trial_id", columns="objective", values="value")
        for i, name in enumerate(objectives):
            frame[name] = wide[i] if i in wide.columns else np.nan
    else:
        for name in objectives:
            frame[name] = np.nan
    if len(params):
        params["value"] = [
            _decode_param(v, d)
            for v, d in zip(params.param_value.tolist(), params.distribution_json.tolist())
        ]
        wide = params.pivot(index="trial_id", columns="param_name", values="value")
        for column in wide.columns:
            frame[f"param_{column}"] = wide[column]
    if len(attrs):
        attrs["value"] = [_decode_attr(v) for v in attrs.value_json.tolist()]
        wide = attrs.pivot(index="trial_id", columns="key", values="value")
        for column in wide.columns:
            if column not in frame.columns:
                frame[column] = wide[column]
    return frame.reset_index()


def objective_columns(engine: sa.Engine, study_name: str) -> list[str]:
    return list(study_info(engine, study_name)["objectives"])


def pareto_front(trials: pd.DataFrame, objectives: list[str], directions: list[str]) -> pd.DataFrame:
    """The complete, non-dominated trials (the best trial for a single objective)."""
    done = trials[trials.state == "COMPLETE"].dropna(subset=objectives)
    if done.empty:
        return done
    mask = pareto_mask(done[objectives].to_numpy(), directions)
    front = done[mask]
    ascending = directions[0] == "minimize"
    return front.sort_values(objectives[0], ascending=ascending)


_INF = {"INF_POS": np.inf, "INF_NEG": -np.inf, "FINITE": np.nan}


@lru_cache(maxsize=4096)
def _distribution(distribution_json: str) -> Any:
    from optuna.distributions import json_to_distribution

    return json_to_distribution(distribution_json)


def _decode_param(value: float, distribution_json: str) -> Any:
    return _distribution(distribution_json).to_external_repr(value)


def _decode_attr(value_json: str) -> Any:
    # Nested attrs (the arch, metric dicts) stay JSON text: one cell, one value. Kept as
    # stored, without a decode/encode round trip (most of the time to load a large study).
    if value_json.startswith(("{", "[")):
        return value_json
    if value_json.startswith('"') and "\\" not in value_json:
        return value_json[1:-1]  # a plain string: nothing to unescape
    return json.loads(value_json)


def _has_optuna_tables(engine: sa.Engine) -> bool:
    return sa.inspect(engine).has_table("studies")
