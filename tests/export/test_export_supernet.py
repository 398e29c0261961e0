"""Exporting trials that a weight-sharing supernet scored (reduced `studies/gnn_supernet.toml`)."""

from __future__ import annotations

import optuna
import pytest
import torch

import nas
from nas.errors import ExportError
from nas.export import export_trials
from tests.conftest import DATA_DIR


def test_supernet_trial_exports_the_extracted_subnet_it_scored(gnn_supernet_study, tmp_path):
    study = optuna.load_study(study_name="gnn-supernet", storage=gnn_supernet_study.url)
    trial = study.trials[0]
    assert trial.user_attrs["fidelity"] == "supernet"
    [folder] = export_trials("gnn-supernet", storage=gnn_supernet_study.url, trial=0,
                             formats="pt,torchscript", out_dir=tmp_path / "out", data_dir=DATA_DIR)
    payload = torch.load(folder / "model.pt", weights_only=True)
    assert payload["weights_source"] == "supernet"
    # Same checkpoint, same BN recalibration: the export measures the trial's own figure.
    assert payload["measured_at_export"]["val_accuracy"] == pytest.approx(trial.values[0], abs=1e-9)
    assert "via extract(arch), after BN recalibration" in (folder / "card.md").read_text()

    from nas.tasks import create_task

    task = create_task("cora", data_dir=DATA_DIR, seed=0)
    task.prepare("cpu")
    model, _ = nas.load(folder)
    assert task.evaluate(model.network, "val")["accuracy"] == pytest.approx(trial.values[0], abs=1e-9)


def test_a_missing_checkpoint_is_one_error_or_a_training_from_scratch(gnn_supernet_study, tmp_path):
    study_copy = gnn_supernet_study.copy(tmp_path / "db")
    # The same trial, whose checkpoint artifact is not in the store (deleted, another store).
    study = optuna.load_study(study_name="gnn-supernet", storage=study_copy.url)
    scored = study.trials[0]
    assert set(scored.user_attrs["checkpoint_artifact"]) == {"id", "sha256"}
    missing = {"id": "0123-missing", "sha256": scored.user_attrs["checkpoint_artifact"]["sha256"]}
    study.add_trial(optuna.trial.create_trial(
        params=scored.params, distributions=scored.distributions, values=scored.values,
        user_attrs={**scored.user_attrs, "checkpoint_artifact": missing}))
    number = len(study.trials) - 1
    with pytest.raises(ExportError, match=rf"^trial {number} of study 'gnn-supernet': artifact "
                       r"0123-missing is not in the artifact store /.*study.db.artifacts$"):
        export_trials("gnn-supernet", storage=study_copy.url, trial=number,
                      out_dir=tmp_path / "out2", data_dir=DATA_DIR)
    assert not (tmp_path / "out2" / "gnn-supernet").exists() or not any(
        (tmp_path / "out2" / "gnn-supernet").iterdir())
    [folder] = export_trials("gnn-supernet", storage=study_copy.url, trial=number, finetune_epochs=1,
                             formats="pt", out_dir=tmp_path / "out2", data_dir=DATA_DIR)
    payload = torch.load(folder / "model.pt", weights_only=True)
    assert payload["weights_source"] == "scratch"
    assert "trained from scratch at export for 1 epoch(s)" in (folder / "card.md").read_text()


def test_a_search_in_another_folder_finds_the_supernet_through_the_artifact_store(
        gnn_supernet_study, tmp_path):
    from tests.conftest import run_nas

    # Another working folder (no checkpoints/ here), another study name, a copy of the
    # database: only the study file's `artifacts` key leads to what train-supernet published.
    study_copy = gnn_supernet_study.copy(tmp_path / "db")
    store = gnn_supernet_study.folder / "study.db.artifacts"
    assert any(p.name.endswith("-latest.json") for p in store.iterdir())
    text = (gnn_supernet_study.folder / "study.toml").read_text()
    (tmp_path / "study.toml").write_text(f'artifacts = "{store}"\n' + text)
    done = run_nas("search", "study.toml", "--storage", study_copy.url, "--study-name", "elsewhere",
                   "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "checkpoints").exists()
    trial = optuna.load_study(study_name="elsewhere", storage=study_copy.url).trials[0]
    assert trial.user_attrs["checkpoint_artifact"]["id"].startswith("supernet-")
    [folder] = export_trials("elsewhere", storage=study_copy.url, trial=0, formats="pt",
                             out_dir=tmp_path / "out", data_dir=DATA_DIR)
    payload = torch.load(folder / "model.pt", weights_only=True)
    assert payload["measured_at_export"]["val_accuracy"] == pytest.approx(trial.values[0], abs=1e-9)
