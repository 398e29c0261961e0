"""Fixtures every test may use: the offline data folder, a temp SQLite store, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# pytest-xdist already runs one test process per core: one math thread each (also in the
# CLI processes the tests start, which inherit the environment) avoids oversubscription,
# which made tiny models several times slower on 2 cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (tiny models: faster, and no spin-waiting threads
    starving the other test process on 2 cores); the previous count restored after.
    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.fail(f"offline data folder missing: {DATA_DIR}")
    return DATA_DIR


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def run_nas(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``nas`` CLI in a fresh process (as a user would)."""
    full_env = {**os.environ, "NAS_DATA_DIR": str(DATA_DIR), "PYTHONPATH": str(REPO),
                **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nas", *args],
        cwd=cwd or REPO, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def nas_cli():
    return run_nas
