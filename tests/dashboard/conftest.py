"""Real studies for the dashboard tests: small NAS-Bench-201 tabular searches run by `nas search`.

Both searches run once per session, in parallel, through the real CLI into one
SQLite file; an empty study (created, never searched) sits beside them.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.study_files import ACCURACY, PARAMS, search, study_toml, write_study

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboard" / "app.py"
DATA_DIR = (REPO / ".." / "shared" / "data").resolve()
TWO_OBJECTIVES = "nb201-two"
THREE_OBJECTIVES = "nb201-three"
EMPTY = "empty-study"



def _tabular_study(name: str, seed: int, sampler: str, n_trials: int,
                   *objectives: tuple[str, str]) -> str:
    return study_toml(name, seed=seed, space="nb201", task="nb201-cifar10", objectives=objectives,
                      sampler=sampler, evaluator="tabular", n_trials=n_trials)


@pytest.fixture(scope="session")
def dashboard_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite URL holding a 2-objective study, a 3-objective study and an empty one."""
    folder = tmp_path_factory.mktemp("dashboard-store")
    url = f"sqlite:///{folder / 'studies.db'}"
    files = {
        TWO_OBJECTIVES: _tabular_study(TWO_OBJECTIVES, 0, "nsga2", 30, ACCURACY, PARAMS),
        THREE_OBJECTIVES: _tabular_study(THREE_OBJECTIVES, 1, "random", 20, ACCURACY, PARAMS,
                                         ("edgegpu_latency", "minimize")),
    }
    env = {**os.environ, "NAS_DATA_DIR": str(DATA_DIR), "PYTHONPATH": str(REPO)}
    # Create the tables first, so the two searches can then share the file (SQLite WAL).
    from nas.store import open_storage

    open_storage(url).engine.dispose()
    first, second = (folder / f"{name}.toml" for name in files)
    for path, text in zip((first, second), files.values()):
        path.write_text(text)
    runs = []
    for path in (first, second):
        runs.append(subprocess.Popen(
            [sys.executable, "-m", "nas", "search", str(path), "--storage", url, "--no-progress"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    for run in runs:
        out, _ = run.communicate(timeout=240)
        assert run.returncode == 0, out
    _add_empty_study(url)
    return url


GNN = "gnn-no-message-passing"
_GNN_STUDY = study_toml(
    GNN, device="cpu",
    space={"name": "gnn", "choices": {"mp_layers": 0, "hidden_dim": [16], "propagation_steps": [5]}},
    task="cora", objectives=(ACCURACY, PARAMS),
    evaluator={"name": "train", "params": {"epochs": 3, "latency_repeats": 1, "save_weights": False}},
    n_trials=2)


@pytest.fixture(scope="session")
def gnn_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite URL of a 2-trial GNN study on Cora (3 epochs each) without message passing:
    its conv type, heads, aggregation and skips are choices the models do not use."""
    folder = tmp_path_factory.mktemp("gnn-store")
    url = f"sqlite:///{folder / 'gnn.db'}"
    search(write_study(folder, _GNN_STUDY, "gnn.toml"), url, env={"OMP_NUM_THREADS": "1"},
           timeout=240)
    return url


def _add_empty_study(url: str) -> None:
    import optuna

    from nas.store import open_storage

    study = optuna.create_study(storage=open_storage(url), study_name=EMPTY,
                                directions=["maximize", "minimize"])
    for key, value in {"space": "nb201", "task": "nb201-cifar10", "sampler": "tpe",
                       "family": "image", "objectives": ["val_accuracy", "params"]}.items():
        study.set_user_attr(key, value)



@pytest.fixture
def open_page():
    """``open_page(url, page, **query)``: the dashboard app run on ``url`` at ``views/<page>.py``."""
    return _open_page


def _open_page(url: str, page: str, timeout: float = 60, **query: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=timeout)
    app.session_state["storage"] = url
    app.switch_page(f"views/{page}.py")
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def texts(app: AppTest, *kinds: str) -> list[str]:
    """The text values of every element of the given kinds (``info``, ``warning``, ...)."""
    return [str(element.value) for kind in kinds for element in getattr(app, kind)]


@pytest.fixture
def page_texts():
    """``page_texts(app, "info", "warning")``: the texts of those elements."""
    return texts


def plotly_traces(app: AppTest, index: int = 0) -> list[dict]:
    """The traces of the ``index``-th plotly chart on the page, arrays decoded to numpy."""
    spec = json.loads(app.get("plotly_chart")[index].proto.spec)
    return [{key: _decoded(value) for key, value in trace.items()} for trace in spec["data"]]


def _decoded(value: object) -> object:
    # Plotly ships numpy arrays as {"dtype": ..., "bdata": base64, "shape": ...}.
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array
    return value


@pytest.fixture
def chart_traces():
    """``chart_traces(app, index=0)``: that plotly chart's traces as dicts of numpy arrays."""
    return plotly_traces


@pytest.fixture
def serve_dashboard():
    """``serve_dashboard(url, *args)``: ``nas dashboard`` on a free loopback port, up and healthy.

    Yields the factory; each started server is stopped (SIGTERM to the process
    we started, which *is* the Streamlit server) when the test ends.
    """
    started: list[subprocess.Popen] = []

    def start(url: str, *args: str) -> tuple[str, subprocess.Popen]:
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "nas", "dashboard", "--storage", url, "--port", str(port),
             *args],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        started.append(server)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"nas dashboard exited early:\n{server.stdout.read()}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return base, server
            except OSError:
                time.sleep(0.3)
        pytest.fail("nas dashboard did not answer within 90 s")

    yield start
    for server in started:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
