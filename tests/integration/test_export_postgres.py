"""A PostgreSQL search in one working folder, `nas export` in another: weights via the artifact store."""

from __future__ import annotations

import subprocess
import sys
import uuid

import optuna
import pytest

import nas
from tests.integration.conftest import DATA_DIR, nas_env
from tests.study_files import gnn_cora_study, search, write_study

CHOICES = {"conv": "sage", "aggregation": "max", "pre_layers": 1, "mp_layers": 1, "post_layers": 1,
           "hidden_dim": 16, "propagation_steps": 0}


def test_export_from_another_folder_reads_the_workers_weights(postgres_url, tmp_path):
    name = f"pg-export-{uuid.uuid4().hex[:6]}"
    worker_dir, export_dir = tmp_path / "worker", tmp_path / "elsewhere"
    worker_dir.mkdir()
    export_dir.mkdir()
    store = tmp_path / "shared-store"  # e.g. a shared mount; only the worker is told about it
    search(write_study(worker_dir, gnn_cora_study(name, CHOICES, epochs=2)), postgres_url,
           env={"NAS_ARTIFACTS": str(store)})
    assert not any(p.name != "study.toml" for p in worker_dir.iterdir())  # nothing in the folder

    env = nas_env()
    env.pop("NAS_ARTIFACTS", None)
    done = subprocess.run([sys.executable, "-m", "nas", "export", name, "--trial", "0",
                           "--storage", postgres_url, "--out", "out"], cwd=export_dir,
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    trial = optuna.load_study(study_name=name, storage=postgres_url).trials[0]
    model, _ = nas.load(export_dir / "out" / name / "0")
    from nas.tasks import create_task

    task = create_task("cora", data_dir=DATA_DIR, seed=0)
    task.prepare("cpu")
    assert task.evaluate(model.network, "val")["accuracy"] == pytest.approx(trial.values[0], abs=1e-9)
    assert (store / trial.user_attrs["weights_artifact"]["id"]).is_file()
