"""Every space's export, trained, used as a user without nas would: raw inputs, two sizes.

For gnn (every conv type), nb201, mobilenet, vit and charlm, a trained trial is
exported; then a fresh process that imports only torch and onnxruntime feeds
``model.ts`` and ``model.onnx`` raw inputs (un-normalised features, uint8
images, text as code points) at two sizes and gets what ``nas.load`` gives,
within 1e-4, and the test accuracy the card states (measured on raw inputs,
and equal to the trial's own recorded test accuracy where the trial trained).
"""

from __future__ import annotations

import re

import optuna
import pytest
import torch

import nas
from nas.export import export_trials
from nas.export._formats import parity_error
from search_spaces import Batch
from tests.conftest import DATA_DIR
from tests.export.conftest import run_card_example, run_torch_only


def _task(name: str, **params):
    from nas.tasks import create_task

    task = create_task(name, data_dir=DATA_DIR, seed=0, **params)
    task.prepare("cpu")
    return task


def _card_test_accuracy(folder) -> float:
    card = (folder / "card.md").read_text()
    [value] = re.findall(r"\| test accuracy of these files on raw test inputs \(`[^`]+`\) \| ([0-9.]+) \|",
                         card)
    return float(value)


def _accuracy(logits: torch.Tensor, split: Batch) -> float:
    selected, targets = split.selected(logits)
    return float((selected.argmax(-1) == targets).float().mean())


def _check(folder, task, tmp_path, *, recorded_test_accuracy: float | None) -> None:
    """model.ts / model.onnx on raw inputs of two sizes = nas.load; the card's test accuracy holds."""
    model, _arch = nas.load(folder)
    raw = task.raw_inputs()
    first = raw.example(6, 5)            # a batch neither traced nor checked at export
    second = raw.smaller(raw.example(6, 7))  # another size: fewer nodes/images, shorter text
    assert tuple(first.inputs[0].shape) != tuple(second.inputs[0].shape)
    test = raw.split("test")
    sets = [first.inputs, second.inputs, test.inputs]
    loaded = run_torch_only(folder, sets, tmp_path / "fresh")
    assert loaded["modules"] == []  # neither nas nor torch_geometric was imported
    for inputs, scripted, onnx in zip(sets, loaded["torchscript"], loaded["onnx"]):
        with torch.no_grad():
            expected = model(*inputs)
        assert parity_error(scripted, expected) <= 1e-4
        assert parity_error(onnx, expected) <= 1e-4
    stated = _card_test_accuracy(folder)
    assert _accuracy(loaded["onnx"][2], test) == pytest.approx(stated, abs=1e-6)
    if recorded_test_accuracy is not None:
        # The shipped weights and preprocessing are the scored ones: same test accuracy.
        assert stated == pytest.approx(recorded_test_accuracy, abs=1e-6)
    assert run_card_example(folder).startswith("(2,")  # the card's snippet runs as written


def test_every_gnn_conv_exports_and_runs_on_raw_cora(gnn_convs_study, tmp_path):
    study = optuna.load_study(study_name="gnn-convs", storage=gnn_convs_study.url)
    trials = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert sorted(t.params["conv"] for t in trials) == sorted(
        ("gcn", "gat", "gatv2", "sage", "gin", "graphconv", "tag"))
    folders = []
    for trial in trials:
        folders += export_trials("gnn-convs", storage=gnn_convs_study.url, trial=trial.number,
                                 out_dir=tmp_path / "out", data_dir=DATA_DIR)
    task = _task("cora")
    for trial, folder in zip(trials, folders):
        assert {"model.onnx", "model.ts"} <= {p.name for p in folder.iterdir()}, trial.params
        _check(folder, task, tmp_path / str(trial.number),
               recorded_test_accuracy=trial.user_attrs["metrics"]["test_accuracy"])


@pytest.mark.parametrize("space", ["mobilenet", "vit"])
def test_image_models_take_uint8_pixels(space, request, tmp_path):
    study_info = request.getfixturevalue(f"{space}_study")
    name = f"tiny-{space}"
    best = optuna.load_study(study_name=name, storage=study_info.url).best_trial
    [folder] = export_trials(name, storage=study_info.url, trial=best.number,
                             out_dir=tmp_path / "out", data_dir=DATA_DIR)
    task = _task("cifar10-subset", train_size=128, val_size=100, batch_size=64, image_size=16)
    assert task.raw_inputs().example(2, 0).inputs[0].dtype == torch.uint8
    _check(folder, task, tmp_path, recorded_test_accuracy=best.user_attrs["metrics"]["test_accuracy"])


def test_nb201_from_a_tabular_study_trained_at_export(nb201_study, tmp_path):
    study = optuna.load_study(study_name="tiny-nb201", storage=nb201_study.url)
    # 16x16 (average-pooled inside the export): the cell network costs a quarter of 32x32.
    params = {"train_size": 128, "val_size": 100, "batch_size": 64, "image_size": 16}
    [folder] = export_trials("tiny-nb201", storage=nb201_study.url, best="val_accuracy",
                             finetune_epochs=1, out_dir=tmp_path / "out", data_dir=DATA_DIR,
                             task_params=params)
    payload = torch.load(folder / "model.pt", weights_only=True)
    assert payload["weights_source"] == "scratch" and payload["fidelity"] == "tabular"
    assert payload["arch"] == study.best_trial.user_attrs["arch"]
    _check(folder, _task("cifar10-subset", **params), tmp_path, recorded_test_accuracy=None)


def test_charlm_takes_text_through_the_stored_vocabulary(charlm_study, tmp_path):
    study = optuna.load_study(study_name="tiny-charlm", storage=charlm_study.url)
    best = study.best_trial
    [folder] = export_trials("tiny-charlm", storage=charlm_study.url, trial=best.number,
                             out_dir=tmp_path / "out", data_dir=DATA_DIR)
    task = _task("tinyshakespeare", seq_len=32, batch_size=8, steps_per_epoch=4, eval_tokens=512)
    payload = torch.load(folder / "model.pt", weights_only=True)
    vocabulary = payload["vocabulary"]
    text = (DATA_DIR / "text" / "tinyshakespeare.txt").read_text()
    assert vocabulary == "".join(sorted(set(text[: int(len(text) * 0.9)])))  # the training part's
    # The model on a text a user types: code points in, the next character out.
    model, _ = nas.load(folder)
    typed = "ROMEO:\nWhat light"
    with torch.no_grad():
        logits = model(torch.tensor([[ord(c) for c in typed]]))
    assert logits.shape == (1, len(typed), len(vocabulary) + 1)  # + the unknown token
    assert int(logits[0, -1].argmax()) <= len(vocabulary)
    assert task.evaluate(model.network, "val")["loss"] == pytest.approx(best.values[0], rel=1e-6)
    _check(folder, task, tmp_path, recorded_test_accuracy=best.user_attrs["metrics"]["test_accuracy"])
