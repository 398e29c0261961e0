"""Real processes on a real store: helpers for the many-worker and crash tests.

Workers are the real CLI (``python -m nas worker|search``) in their own
processes, as a user starts them; the tests watch the study through the
dashboard's read path (:mod:`nas.store`) and kill processes with real signals.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = (REPO / ".." / "shared" / "data").resolve()

#: A NAS-Bench-201 tabular study: no training, so 200 trials cost seconds.
TABULAR_STUDY = """
name = "{name}"
seed = 0
[space]
name = "nb201"
[task]
name = "nb201-cifar10"
[[objectives]]
metric = "val_accuracy"
direction = "maximize"
[sampler]
name = "{sampler}"
[evaluator]
name = "tabular"
[budget]
{budget}
"""

#: A GNN trained for a fixed number of epochs on a small synthetic graph: a trial
#: that takes a few seconds, long enough to kill its worker in the middle of it.
SLOW_STUDY = """
name = "{name}"
seed = 0
device = "cpu"
[space]
name = "gnn"
choices = {{ conv = "gcn", pre_layers = 1, mp_layers = 1, post_layers = 1, hidden_dim = 16, heads = 1, propagation_steps = 0, batch_norm = false, skip = "none" }}
[task]
name = "synthetic-graph"
params = {{ num_nodes = 200, num_features = 8 }}
[[objectives]]
metric = "val_accuracy"
direction = "maximize"
[sampler]
name = "random"
[evaluator]
name = "train"
params = {{ epochs = {epochs}, patience = {epochs}, save_weights = false, latency_repeats = 1 }}
[budget]
n_trials = {n_trials}
"""


def nas_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "NAS_DATA_DIR": str(DATA_DIR), "PYTHONPATH": str(REPO),
           "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("NAS_STORAGE", None)
    env.update(extra)
    return env


def start_nas(*args: str, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start the real CLI in its own process group, output to ``log``."""
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "nas", *args], cwd=cwd, env=env,
        stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill a process group we started, if it still runs (test cleanup)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)


def wait_for(what: str, predicate: Callable[[], Any], timeout: float, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value is not None and value is not False:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def create_study(text: str, url: str, tmp_path: Path) -> Any:
    """Create the study exactly as ``nas search`` does before its first trial."""
    from nas.config import load_study_file
    from nas.search.study import create_or_load_study, storage_for

    path = tmp_path / f"study-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(text)
    config = load_study_file(path)
    create_or_load_study(config, storage_for(url))
    return path


def trials(engine: Any, study: str) -> Any:
    """The study's trials through the dashboard's read path."""
    from nas.store import load_trials

    return load_trials(engine, study)


def heartbeats(engine: Any) -> dict[int, Any]:
    import sqlalchemy as sa

    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT trial_id, heartbeat FROM trial_heartbeats"))
        return {int(r[0]): r[1] for r in rows}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the test PostgreSQL server, dropped afterwards."""
    url = os.environ.get("NAS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("NAS_TEST_POSTGRES_URL is unset: run through `make test` or "
                    "`bash .ci/with-postgres.sh` to get a private PostgreSQL server")
    admin = os.environ.get("NAS_TEST_POSTGRES_ADMIN_URL")
    if not admin:
        yield url  # study names are unique per test, so sharing the database is safe
        return
    import sqlalchemy as sa

    name = f"nas_it_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
