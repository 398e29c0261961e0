"""The CLI scripts well: piped tables keep whole values, JSON and CSV round-trip, one unit per metric.

Two real studies are searched with the real ``nas search`` into one SQLite
file: the NAS-Bench-201 tabular study and the quickstart (GNN on Cora, its
file with fewer trials and epochs). Every accuracy must be a fraction in the
store and in ``nas show``'s JSON and CSV, and a percentage in its table.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA_DIR, REPO, run_nas

TABULAR, QUICKSTART = "nb201-tabular-formats", "quickstart-formats"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("formats")
    db = folder / "nas.db"
    quickstart = (REPO / "studies" / "quickstart.toml").read_text()
    quickstart = quickstart.replace("epochs = 150, patience = 20, latency_repeats = 5",
                                    "epochs = 8, patience = 8, latency_repeats = 1")
    (folder / "quickstart.toml").write_text(quickstart)
    for study_file, name, n_trials in ((REPO / "studies" / "nb201_tabular.toml", TABULAR, 12),
                                       (folder / "quickstart.toml", QUICKSTART, 3)):
        done = run_nas("search", str(study_file), "--storage", f"sqlite:///{db}",
                       "--study-name", name, "--n-trials", str(n_trials), "--n-jobs", "1",
                       "--no-progress", cwd=folder, timeout=600)
        assert done.returncode == 0, done.stderr
    return db


def piped(command: str, cwd: Path) -> str:
    """``command`` run by a shell, as a user types it (stdout is a pipe, not a terminal)."""
    env = {**os.environ, "NAS_DATA_DIR": str(DATA_DIR), "PYTHONPATH": str(REPO),
           "NAS": f"{sys.executable} -m nas", "PY": sys.executable}
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_nas_list_piped_keeps_every_value_whole(store):
    out = piped(f"$NAS list --storage sqlite:///{store} | cat", store.parent)
    assert "…" not in out
    for name in (TABULAR, QUICKSTART, "nb201-cifar10", "val_accuracy (max), params (min)"):
        assert name in out
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out)  # the whole timestamp
    rows = json.loads(run_nas("list", "--storage", f"sqlite:///{store}", "--format", "json").stdout)
    assert {r["study"]: (r["complete"], r["failed"]) for r in rows} == {
        TABULAR: (12, 0), QUICKSTART: (3, 0)}


def test_nas_show_csv_reads_into_pandas_with_a_column_per_choice_and_metric(store):
    script = ("import json, sys, pandas as pd; f = pd.read_csv(sys.stdin); "
              "print(json.dumps({'columns': list(f.columns), 'rows': len(f), "
              "'params': f['params'].dtype.kind}))")
    out = piped(f"$NAS show {QUICKSTART} --all --format csv --storage sqlite:///{store} "
                f"| $PY -c \"{script}\"", store.parent)
    read = json.loads(out)
    assert read["rows"] == 3
    from search_spaces import create_space

    choices = [f"arch.{c}" for c in create_space("gnn").choices()]
    assert set(choices) <= set(read["columns"])  # one column per choice (all sampled on gnn)
    for metric in ("val_accuracy", "test_accuracy", "params", "flops", "latency_ms"):
        assert metric in read["columns"]
    assert read["params"] == "i"  # a count is an int, not 434695.0


def test_nas_spaces_gnn_json_round_trips(nas_cli):
    from search_spaces import Categorical, create_space

    done = nas_cli("spaces", "gnn", "--format", "json")
    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout)
    space = create_space("gnn")
    assert described["space"] == "gnn" and list(described["choices"]) == list(space.choices())
    for name, choice in space.choices().items():
        record = described["choices"][name]
        assert record["default"] == choice.default and type(record["default"]) is type(choice.default)
        if isinstance(choice, Categorical):
            assert record["values"] == list(choice.values)
            assert [type(v) for v in record["values"]] == [type(v) for v in choice.values]
        else:
            assert (record["low"], record["high"], record["log"]) == (choice.low, choice.high,
                                                                       choice.log)
    # What it prints is valid input: the values as overrides give back the same space.
    overrides = {n: c["values"] for n, c in described["choices"].items() if "values" in c}
    assert create_space("gnn", overrides).choices() == space.choices()
    concise = nas_cli("spaces").stdout
    assert len(concise.splitlines()) < 20 and "gnn" in concise and "mobilenet" in concise


def test_every_accuracy_is_a_fraction_in_the_store_and_a_percentage_in_tables(store):
    with sqlite3.connect(store) as conn:
        values = conn.execute(
            "SELECT v.value FROM trial_values v JOIN trials t ON t.trial_id = v.trial_id "
            "JOIN study_directions d ON d.study_id = t.study_id AND d.objective = v.objective "
            "WHERE v.objective = 0").fetchall()
        metrics = [json.loads(m) for (m,) in conn.execute(
            "SELECT value_json FROM trial_user_attributes WHERE key = 'metrics'")]
    assert len(values) == 15 and all(0 <= v <= 1 for (v,) in values)  # val_accuracy is objective 0
    accuracies = [v for m in metrics for k, v in m.items() if k.endswith("accuracy")]
    assert len(accuracies) >= 30 and all(0 <= a <= 1 for a in accuracies)
    for study in (TABULAR, QUICKSTART):
        shown = json.loads(run_nas("show", study, "--all", "--format", "json",
                                   "--storage", f"sqlite:///{store}").stdout)
        for record in shown:
            for key, value in record.items():
                if key.endswith("accuracy"):
                    assert 0 <= value <= 1, (study, key, value)
                if isinstance(value, float):  # rounded to what was measured: no float32 tail
                    assert len(f"{value:.15g}".lstrip("-0.").replace(".", "")) <= 7, (key, value)
            assert isinstance(record["params"], int)
        table = run_nas("show", study, "--all", "--storage", f"sqlite:///{store}").stdout
        assert "val_accuracy (%)" in table and "test_accuracy (%)" in table
        assert "M params" in table and "MFLOPs" in table
        best = max(r["val_accuracy"] for r in shown)
        assert f"{100 * best:.2f}" in table
    assert "latency_ms (ms)" in run_nas("show", QUICKSTART, "--storage",
                                        f"sqlite:///{store}").stdout


def test_piped_show_table_cuts_no_architecture(store):
    out = piped(f"$NAS show {TABULAR} --all --storage sqlite:///{store} | cat", store.parent)
    assert "…" not in out
    shown = json.loads(run_nas("show", TABULAR, "--all", "--format", "json",
                               "--storage", f"sqlite:///{store}").stdout)
    for record in shown:
        arch = " ".join(f"{k}={v}" for k, v in record["arch"].items())
        assert arch in out
