"""An interrupted search, resumed with the same command, ends with exactly ``n_trials`` trials.

The real ``nas search`` runs in its own process group and is stopped mid-run
the two ways a user meets: Ctrl-C in the terminal (SIGINT to the whole
foreground group: the main process and its worker processes) and a hard kill
(SIGKILL to the group: nothing gets to clean up, the running trials stay
RUNNING in the store until their heartbeats go stale). Then the very same
command runs again to the end.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DATA_DIR, REPO

N_TRIALS = 6

STUDY = f"""
name = "resume"
seed = 3
n_jobs = {{n_jobs}}
device = "cpu"

[space]
name = "gnn"
choices = {{{{ hidden_dim = [16, 32], heads = [1, 2] }}}}

[task]
name = "synthetic-graph"
params = {{{{ num_nodes = 300 }}}}

[[objectives]]
metric = "val_accuracy"
direction = "maximize"

[sampler]
name = "tpe"

[evaluator]
name = "train"
params = {{{{ epochs = 25, patience = 25, save_weights = false, latency_repeats = 1 }}}}

[budget]
n_trials = {N_TRIALS}
"""

ENV = {
    **os.environ,
    "NAS_DATA_DIR": str(DATA_DIR),
    "PYTHONPATH": str(REPO),
    # Stale RUNNING trials of a killed search are failed and re-queued after 2 s, not 7.5 s.
    "NAS_HEARTBEAT_INTERVAL_S": "1",
    "NAS_HEARTBEAT_GRACE_S": "2",
    "OMP_NUM_THREADS": "1",
}


def states(db: Path) -> dict[str, int]:
    """Trial states straight from Optuna's tables (a reader that cannot lock the writers out)."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return {}
    return {str(state): int(n) for state, n in rows}


def search_command(study: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "nas", "search", str(study), "--storage", f"sqlite:///{db}",
            "--no-progress"]


@pytest.mark.parametrize(("how", "n_jobs"), [(signal.SIGINT, 2), (signal.SIGKILL, 1)],
                         ids=["ctrl-c-two-workers", "kill-9-one-worker"])
def test_interrupted_search_resumes_to_exactly_n_trials(tmp_path, how, n_jobs):
    study = tmp_path / "study.toml"
    study.write_text(STUDY.format(n_jobs=n_jobs))
    db = tmp_path / "nas.db"
    command = search_command(study, db)
    first = subprocess.Popen(command, cwd=tmp_path, env=ENV, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while states(db).get("COMPLETE", 0) < 2:
        assert first.poll() is None, f"search ended before it was interrupted: {first.communicate()}"
        assert time.monotonic() < deadline, "search made no progress"
        time.sleep(0.2)
    os.killpg(first.pid, how)
    out, err = first.communicate(timeout=120)
    interrupted = states(db)
    assert interrupted.get("COMPLETE", 0) < N_TRIALS, "interrupted too late to test a resume"
    if how == signal.SIGINT:
        assert first.returncode == 130, err
        assert "run the same command again to resume" in out
    # A trial cut off outside its evaluation may stay RUNNING; the re-run fails it once its
    # heartbeat is stale and re-queues it, so the count below is still exact.

    again = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    final = states(db)
    assert final.get("COMPLETE", 0) == N_TRIALS, final
    assert final.get("RUNNING", 0) == 0 and final.get("WAITING", 0) == 0, final
    assert f"{N_TRIALS} complete" in again.stdout


def trial_attrs(db: Path, key: str) -> dict[int, str]:
    """``{trial number: value_json}`` of one user attr, for every trial that has it."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(
            "SELECT t.number, a.value_json FROM trials t JOIN trial_user_attributes a "
            "ON a.trial_id = t.trial_id WHERE a.key = ?", (key,)).fetchall()
    return {int(n): v for n, v in rows}


def trial_params(db: Path) -> dict[int, tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(
            "SELECT t.number, p.param_name, p.param_value FROM trials t JOIN trial_params p "
            "ON p.trial_id = t.trial_id").fetchall()
    params: dict[int, dict[str, float]] = {}
    for number, name, value in rows:
        params.setdefault(int(number), {})[name] = value
    return {n: tuple(sorted(p.items())) for n, p in params.items()}


def test_sigint_to_the_parent_alone_interrupts_its_workers_and_resume_retries_them(
        tmp_path, nas_cli):
    """SIGINT to `nas search` only (not its group): the workers stop within a heartbeat
    interval, their trials are recorded as interrupted (not failed) and evaluated first
    when the search resumes; the study ends with exactly n_trials complete, none failed."""
    study = tmp_path / "study.toml"
    study.write_text(STUDY.format(n_jobs=2))
    db = tmp_path / "nas.db"
    command = search_command(study, db)
    # The default heartbeat interval (not the 1 s the kill tests use to see stale trials
    # quickly): a worker must stop within it, also on a loaded 2-core machine.
    env = {**ENV, "NAS_HEARTBEAT_INTERVAL_S": "5", "NAS_HEARTBEAT_GRACE_S": "10"}
    first = subprocess.Popen(command, cwd=tmp_path, env=env, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while states(db).get("COMPLETE", 0) < 1 or states(db).get("RUNNING", 0) < 1:
        assert first.poll() is None, f"search ended before it was interrupted: {first.communicate()}"
        assert time.monotonic() < deadline, "search made no progress"
        time.sleep(0.1)
    os.kill(first.pid, signal.SIGINT)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    assert "did not stop within a heartbeat interval" not in err  # no worker had to be killed
    after = states(db)
    assert after.get("RUNNING", 0) == 0, after  # every worker closed its trial itself
    interrupted = trial_attrs(db, "nas_interrupted")
    assert interrupted and after.get("FAIL", 0) == len(interrupted), after
    requeued = {int(v) for v in trial_attrs(db, "retry_of").values()}
    # A trial cut before it drew its architecture has nothing to retry.
    cut_archs = {trial_params(db)[n] for n in interrupted if n in trial_params(db)}
    assert cut_archs and requeued == {n for n in interrupted if n in trial_params(db)}

    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{N_TRIALS} complete, 0 failed" in again.stdout
    final = states(db)
    assert final.get("COMPLETE", 0) == N_TRIALS and final.get("RUNNING", 0) == 0, final
    errors = trial_attrs(db, "error").values()
    assert all(e == '"interrupted"' for e in errors), errors  # no "worker lost: no heartbeat"
    listed = nas_cli("list", "--storage", f"sqlite:///{db}", "--format", "json")
    import json

    [row] = json.loads(listed.stdout)
    assert (row["complete"], row["failed"], row["interrupted"]) == (N_TRIALS, 0, len(interrupted))
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        complete = {int(n) for (n,) in conn.execute(
            "SELECT number FROM trials WHERE state = 'COMPLETE'")}
    params = trial_params(db)
    assert cut_archs <= {params[n] for n in complete}  # the interrupted archs were evaluated
