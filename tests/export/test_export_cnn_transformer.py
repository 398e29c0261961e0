"""Exporting an NB201 CNN (tabular study) and a character transformer (trained study)."""

from __future__ import annotations

import optuna
import pytest
import torch

import nas
from nas.export import export_trials
from tests.conftest import DATA_DIR
from tests.export.conftest import run_torch_only


def _task(name: str, **params):
    from nas.tasks import create_task

    task = create_task(name, data_dir=DATA_DIR, seed=0, **params)
    task.prepare("cpu")
    return task


def _check_fresh_process(folder, model, inputs, work):
    """model.ts and model.onnx, run by torch and onnxruntime alone, match nas.load's model."""
    with torch.no_grad():
        expected = model(*inputs)
    loaded = run_torch_only(folder, inputs, work)
    assert loaded["modules"] == []
    state = model.state_dict()
    assert loaded["state_dict"].keys() == state.keys()
    assert all(torch.equal(loaded["state_dict"][k], state[k]) for k in state)
    for fmt in ("torchscript", "onnx"):
        assert loaded[fmt].shape == expected.shape
        assert (loaded[fmt] - expected).abs().max() <= 1e-4 * max(1.0, float(expected.abs().max()))
    return loaded


def test_nb201_cnn_from_a_tabular_study(nb201_study, tmp_path):
    # In this process (the CLI's path is the same call; the quickstart tests run it for real).
    [folder] = export_trials("tiny-nb201", storage=nb201_study.url, best="val_accuracy",
                             out_dir=tmp_path / "exported", data_dir=DATA_DIR)
    study = optuna.load_study(study_name="tiny-nb201", storage=nb201_study.url)
    assert folder == tmp_path / "exported" / "tiny-nb201" / str(study.best_trial.number)

    model, arch = nas.load(folder)
    assert arch.to_dict() == study.best_trial.user_attrs["arch"]
    payload = torch.load(folder / "model.pt", weights_only=True)
    # A table lookup trains nothing: the card must not pass the weights off as trained.
    assert payload["weights_source"] == "random-init" and payload["fidelity"] == "tabular"
    card = (folder / "card.md").read_text()
    assert "**untrained**" in card and "--finetune-epochs" in card
    assert "looked up in the NAS-Bench-201 table" in card
    assert "(data for training and checks: `cifar10-subset`)" in card

    # Real CIFAR-10 test images, none of which the export traced or checked on.
    images = _task("cifar10-subset", val_size=100)._split("test")[0][:24]
    _check_fresh_process(folder, model, (images,), tmp_path / "fresh")


def test_transformer_from_a_trained_study(charlm_study, tmp_path):
    study = optuna.load_study(study_name="tiny-charlm", storage=charlm_study.url)
    best = study.best_trial
    [folder] = export_trials("tiny-charlm", storage=charlm_study.url, trial=best.number,
                             out_dir=tmp_path / "exported", data_dir=DATA_DIR)

    model, arch = nas.load(folder)
    assert arch.to_dict() == best.user_attrs["arch"]
    task = _task("synthetic-seq", steps_per_epoch=4, eval_tokens=512, length=4000)
    # The exported weights are the trained ones that were scored.
    assert task.evaluate(model, "val")["loss"] == pytest.approx(best.values[0], rel=1e-6)
    assert "Source: **trained**" in (folder / "card.md").read_text()

    tokens = task.example_batch(batch_size=5, seed=7).inputs  # another batch size and seed
    loaded = _check_fresh_process(folder, model, tokens, tmp_path / "fresh")
    assert loaded["torchscript"].shape == (5, task.spec.input_size, task.spec.num_classes)
