"""SQLite, one machine: a `nas search` killed with SIGKILL resumes by running the same command,
and four workers plus the dashboard's reads share one file without a single locking failure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime

from tests.integration.conftest import (
    SLOW_STUDY,
    TABULAR_STUDY,
    create_study,
    heartbeats,
    nas_env,
    start_nas,
    stop,
    trials,
    wait_for,
)

#: Seconds the concurrency test keeps four writers and a reader busy. The issue asks
#: for 60 s; CI uses 15 s to fit the suite's budget: NAS_TEST_CONCURRENCY_S=60 for the full run.
CONCURRENCY_S = float(os.environ.get("NAS_TEST_CONCURRENCY_S", "15"))


def test_killed_search_resumes_with_the_same_command(tmp_path):
    from nas.config import load_study_file
    from nas.errors import StorageError
    from nas.store import read_engine
    from search_spaces import create_space

    interval = 2.0
    study = tmp_path / "study.toml"
    study.write_text(SLOW_STUDY.format(name="resumed", epochs=400, n_trials=3))
    space = load_study_file(study).space
    choices = create_space(space.name, dict(space.params)).choices()
    db = tmp_path / "nas.db"
    command = ("search", str(study), "--storage", f"sqlite:///{db}", "--n-jobs", "1",
               "--no-progress")
    env = nas_env(NAS_HEARTBEAT_INTERVAL_S=str(interval))
    first = start_nas(*command, cwd=tmp_path, env=env, log=tmp_path / "first.log")
    try:
        wait_for("the study database", lambda: db.is_file() or None, 120)
        engine = read_engine(f"sqlite:///{db}")

        def evaluating():
            try:
                frame = trials(engine, "resumed")
            except StorageError:
                return None  # the file exists, the study not yet
            if frame.empty:
                return None
            sampled = frame[[f"param_{c}" for c in choices if f"param_{c}" in frame]].notna()
            running = frame[(frame.state == "RUNNING") & (sampled.sum(axis=1) == len(choices))]
            beating = heartbeats(engine)
            rows = [r for r in running.itertuples() if r.trial_id in beating]
            return rows[0] if rows else None

        killed = wait_for("a trial in the middle of its evaluation", evaluating, 120)
        os.killpg(first.pid, signal.SIGKILL)  # the whole process group, like a reboot
        first.wait(timeout=10)
    finally:
        stop(first)
    frame = trials(engine, "resumed")
    assert frame.set_index("number").loc[killed.number, "state"] == "RUNNING"

    resumed_at = datetime.now()
    done = subprocess.run([sys.executable, "-m", "nas", *command], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    frame = trials(engine, "resumed")
    assert (frame.state == "COMPLETE").sum() == 3
    assert frame.number.is_unique
    dead = frame.set_index("number").loc[killed.number]
    assert dead.state == "FAIL" and "worker lost" in dead.error
    assert dead.datetime_complete.to_pydatetime() >= resumed_at  # failed by the re-run
    retry = frame[frame.get("retry_of", frame.number * 0 - 1) == killed.number]
    assert len(retry) == 1 and retry.state.iloc[0] == "COMPLETE"
    assert list(frame.state).count("FAIL") == 1
    engine.dispose()


def test_four_workers_and_the_dashboard_share_sqlite_without_locking_failures(tmp_path):
    from nas.store import (
        load_trials,
        pareto_front,
        read_engine,
        refresh_trials,
        trials_fingerprint,
    )

    name = "busy"
    url = f"sqlite:///{tmp_path / 'nas.db'}"
    budget = f"n_trials = 1000000\ntimeout = {CONCURRENCY_S:g}"
    create_study(TABULAR_STUDY.format(name=name, sampler="random", budget=budget), url, tmp_path)
    env = nas_env()
    workers = [
        start_nas("worker", name, "--storage", url, "--index", str(i), "--no-progress",
                  cwd=tmp_path, env=env, log=tmp_path / f"worker-{i}.log")
        for i in range(4)
    ]
    engine = read_engine(url)
    reads, errors, cached = 0, [], None
    try:
        # The dashboard's read path, polled as fast as it goes while the workers write.
        while any(w.poll() is None for w in workers):
            try:
                trials_fingerprint(engine, name)
                cached = refresh_trials(engine, name, cached)
                pareto_front(cached, ["val_accuracy"], ["maximize"])
                if reads % 10 == 0:
                    load_trials(engine, name)
                reads += 1
            except Exception as exc:  # noqa: BLE001 - every failure is collected and reported
                errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.05)
        codes = [w.wait(timeout=60) for w in workers]
    finally:
        for w in workers:
            stop(w)
    logs = {i: (tmp_path / f"worker-{i}.log").read_text()[-1500:] for i in range(4)}
    assert codes == [0, 0, 0, 0], logs
    assert errors == []
    frame = load_trials(engine, name)
    assert (frame.state == "FAIL").sum() == 0, frame[frame.state == "FAIL"].get("error")
    assert (frame.state == "RUNNING").sum() == 0
    complete = frame[frame.state == "COMPLETE"]
    assert complete.host.nunique() == 4
    # The four wrote side by side (their working spans share a moment) while the reader kept
    # reading. Not a wall-clock span: on a loaded machine workers start seconds apart.
    spans = complete.groupby("host").agg(first=("datetime_start", "min"),
                                         last=("datetime_complete", "max"))
    assert spans["first"].max() < spans["last"].min(), spans
    assert reads >= 20, (reads, len(complete))
    assert len(refresh_trials(engine, name, cached)) == len(frame)
    engine.dispose()
