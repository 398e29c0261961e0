"""The store on a real SQLite file: WAL, our migrated tables, read-only readers."""

import sqlite3
from pathlib import Path

import numpy as np
import optuna
import pytest
import sqlalchemy as sa

from nas.errors import StorageError
from nas.store import (
    list_studies,
    load_trials,
    open_storage,
    pareto_front,
    pareto_mask,
    read_engine,
    resolve_url,
)


def make_study(url: str) -> None:
    storage = open_storage(url)
    study = optuna.create_study(storage=storage, study_name="s", directions=["maximize", "minimize"])
    study.set_user_attr("objectives", ["acc", "params"])
    points = [(0.9, 100.0), (0.8, 50.0), (0.85, 120.0), (0.7, 10.0)]
    for i, (acc, params) in enumerate(points):
        trial = study.ask({"conv": optuna.distributions.CategoricalDistribution(["gcn", "gat"])})
        trial.set_user_attr("arch", {"conv": trial.params["conv"], "i": i})
        study.tell(trial, [acc, params])
    failed = study.ask()
    study.tell(failed, state=optuna.trial.TrialState.FAIL)


def test_sqlite_store_is_wal_and_has_our_tables(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    make_study(url)
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = sa.inspect(sa.create_engine(url)).get_table_names()
    assert {"nas_exports", "nas_proxy_cache", "nas_supernets", "nas_alembic_version"} <= set(tables)
    assert "trials" in tables  # Optuna's own tables are the source of truth


def test_readers_decode_params_values_and_attrs(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    make_study(url)
    engine = read_engine(url)
    studies = list_studies(engine)
    row = studies.iloc[0]
    assert row.study_name == "s" and row.complete == 4 and row.fail == 1
    assert row.objectives == ["acc", "params"]
    trials = load_trials(engine, "s")
    assert list(trials.number) == [0, 1, 2, 3, 4]
    assert {"acc", "params", "param_conv", "arch"} <= set(trials.columns)
    assert set(trials.param_conv.dropna()) <= {"gcn", "gat"}
    front = pareto_front(trials, ["acc", "params"], ["maximize", "minimize"])
    # (0.85, 120) is dominated by (0.9, 100); the others trade off.
    assert sorted(front.number) == [0, 1, 3]
    newer = load_trials(engine, "s", since_trial_id=int(trials.trial_id.iloc[2]))
    assert list(newer.number) == [3, 4]


def test_read_engine_cannot_write(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    make_study(url)
    engine = read_engine(url)
    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM trials"))
    assert len(load_trials(engine, "s")) == 5


def test_missing_database_and_bad_urls_are_storage_errors(tmp_path: Path):
    with pytest.raises(StorageError, match="no study database"):
        read_engine(f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(StorageError, match="folder .* does not exist"):
        open_storage(f"sqlite:///{tmp_path / 'no' / 'dir.db'}")
    with pytest.raises(StorageError, match="scheme 'mongodb' is not supported"):
        resolve_url("mongodb://localhost/x")
    with pytest.raises(StorageError, match="cannot open storage"):
        open_storage("postgresql+psycopg://nobody:pw@127.0.0.1:1/nas")


def test_unknown_study_is_a_storage_error(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    make_study(url)
    with pytest.raises(StorageError, match="no study named 'zzz'"):
        load_trials(read_engine(url), "zzz")


def test_pareto_mask_handles_ties_and_directions():
    values = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 0.5], [0.5, 2.0], [0.5, 0.5]])
    mask = pareto_mask(values, ["maximize", "maximize"])
    assert mask.tolist() == [True, True, True, True, False]
    mask = pareto_mask(values, ["minimize", "minimize"])
    assert mask.tolist() == [False, False, False, False, True]
