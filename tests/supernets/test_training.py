"""``nas train-supernet``: checkpoints per epoch, and a SIGKILLed run resumes to the same weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
import torch

from nas.store import SupernetCheckpoint, read_engine
from tests.conftest import DATA_DIR, REPO, run_nas

STUDY = """
name = "tiny-supernet"
seed = 3

[space]
name = "gnn"
[space.choices]
hidden_dim = [16, 32]
heads = [1, 2]
mp_layers = [1, 2]
propagation_steps = [0]
lr = 0.01
weight_decay = 0.0005

[task]
name = "synthetic-graph"
params = {{ num_nodes = 300, num_features = 16 }}

[[objectives]]
metric = "val_accuracy"
direction = "maximize"

[[objectives]]
metric = "latency_ms"
direction = "minimize"

[sampler]
name = "nsga2"
params = {{ population_size = 4 }}

[evaluator]
name = "supernet"
params = {{ bn_batches = 1, latency_repeats = 2 }}

[supernet]
epochs = {epochs}
sampling = "sandwich"
n_random = 1
keep_last = 0
checkpoint_dir = "ckpt"

[budget]
n_trials = 6
"""

EPOCHS = 12
ENV = {"OMP_NUM_THREADS": "1"}  # one thread: bitwise-reproducible CPU kernels


def write_study(folder: Path, epochs: int = EPOCHS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.toml"
    path.write_text(STUDY.format(epochs=epochs))
    return path


def final_checkpoint(folder: Path) -> dict:
    files = sorted((folder / "ckpt").glob(f"tiny-supernet-*-epoch{EPOCHS:04d}.pt"))
    assert len(files) == 1, sorted(p.name for p in (folder / "ckpt").glob("*"))
    return torch.load(files[0], weights_only=True)


def test_a_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    study = write_study(straight)
    done = run_nas("train-supernet", str(study), "--no-progress", "--storage",
                   f"sqlite:///{straight / 'nas.db'}", cwd=straight, env=ENV)
    assert done.returncode == 0, done.stderr
    assert f"epoch {EPOCHS}" in done.stdout
    engine = read_engine(f"sqlite:///{straight / 'nas.db'}")
    with engine.connect() as connection:
        rows = connection.execute(sa.select(SupernetCheckpoint.epoch, SupernetCheckpoint.space,
                                            SupernetCheckpoint.task)).all()
    engine.dispose()
    assert sorted(epoch for epoch, _, _ in rows) == list(range(1, EPOCHS + 1))
    assert {(space, task) for _, space, task in rows} == {("gnn", "synthetic-graph")}

    study = write_study(killed)
    env = {**os.environ, "NAS_DATA_DIR": str(DATA_DIR), "PYTHONPATH": str(REPO), **ENV}
    process = subprocess.Popen(
        [sys.executable, "-m", "nas", "train-supernet", str(study), "--no-progress",
         "--storage", f"sqlite:///{killed / 'nas.db'}"],
        cwd=killed, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while not list((killed / "ckpt").glob("*epoch0002.pt")) and time.monotonic() < deadline:
        assert process.poll() is None, "training ended before it could be killed"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    written = sorted((killed / "ckpt").glob("*.pt"))
    assert written and not list((killed / "ckpt").glob(f"*epoch{EPOCHS:04d}.pt"))

    resumed = run_nas("train-supernet", str(study), "--resume", "--no-progress", "--storage",
                      f"sqlite:///{killed / 'nas.db'}", cwd=killed, env=ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from 0)" not in resumed.stdout

    expected, actual = final_checkpoint(straight), final_checkpoint(killed)
    assert actual["losses"] == expected["losses"]
    assert expected["supernet"].keys() == actual["supernet"].keys()
    for key, value in expected["supernet"].items():
        assert torch.equal(actual["supernet"][key], value), key
