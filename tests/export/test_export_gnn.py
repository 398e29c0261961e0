"""Exporting GNNs from a cut-down quickstart study (Cora), as a user does with `nas export`."""

from __future__ import annotations

import re

import optuna
import pytest
import sqlalchemy as sa
import torch

import nas
from nas.errors import ExportError
from nas.export import export_trials, select_trials
from nas.export._formats import parity_error
from tests.conftest import DATA_DIR, run_nas
from tests.export.conftest import run_torch_only


def _cora():
    from nas.tasks import create_task

    task = create_task("cora", data_dir=DATA_DIR, seed=0)
    task.prepare("cpu")
    return task


def _export_rows(url: str, study: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT trial_number, path, formats, parity_error, weights_source "
                "FROM nas_exports WHERE study_name = :s ORDER BY id"), {"s": study})]
    finally:
        engine.dispose()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_pareto_exports_every_front_trial_with_a_card(quickstart_study, tmp_path):
    out = tmp_path / "exported"
    done = run_nas("export", "quickstart", "--pareto", "--storage", quickstart_study.url,
                   "--out", str(out), cwd=quickstart_study.folder)
    assert done.returncode == 0, done.stderr

    study = optuna.load_study(study_name="quickstart", storage=quickstart_study.url)
    front = sorted(t.number for t in study.best_trials)
    assert front
    assert sorted(int(p.name) for p in (out / "quickstart").iterdir()) == front
    assert re.findall(r"exported (\S+)", done.stdout) == [str(out / "quickstart" / str(n)) for n in front]
    for number in front:
        folder = out / "quickstart" / str(number)
        assert sorted(p.name for p in folder.iterdir()) == [
            "SHA256SUMS", "arch.json", "card.md", "inputs.json", "model.onnx", "model.pt", "model.ts"]
        card = (folder / "card.md").read_text()
        trial = study.trials[number]
        assert f"study `quickstart`, trial {number}" in card
        assert f"| val_accuracy | maximize | {trial.values[0]:,.6g} | train |" in card
        assert f"| params | minimize | {trial.values[1]:,.6g} | exact (counted) |" in card
        assert "Source: **trained**" in card and "nas.load(" in card
        assert 'torch.jit.load("model.ts")' in card and "'x': np.random.rand(2, 1433)" in card
        assert "*not* normalised (the model divides each row by its sum" in card
        payload = torch.load(folder / "model.pt", weights_only=True)
        assert payload["arch"] == trial.user_attrs["arch"]
        assert payload["weights_source"] == "trained"
        assert max(payload["parity"].values()) <= 1e-4

    rows = [r for r in _export_rows(quickstart_study.url, "quickstart") if r[1].startswith(str(out))]
    assert [r[0] for r in rows] == front
    for number, path, formats, parity, source in rows:
        assert path == str((out / "quickstart" / str(number)).resolve())
        assert formats == "pt,torchscript,onnx" and source == "trained"
        assert parity is not None and 0 <= parity <= 1e-4


def test_trained_gnn_reloads_without_nas_and_is_the_scored_model(quickstart_study, tmp_path):
    study = optuna.load_study(study_name="quickstart", storage=quickstart_study.url)
    best = max((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.values[0])
    [folder] = export_trials("quickstart", storage=quickstart_study.url, trial=best.number,
                             out_dir=tmp_path / "out", data_dir=DATA_DIR)

    model, arch = nas.load(folder)
    assert isinstance(model, torch.nn.Module) and not model.training
    assert arch.to_dict() == best.user_attrs["arch"]
    task = _cora()
    # The shipped weights are the checkpoint of the best validation epoch: same accuracy.
    assert task.evaluate(model.network, "val")["accuracy"] == pytest.approx(best.values[0], abs=1e-9)

    # The loaded model takes the raw features (the task's own input is row-normalised).
    raw = task.raw_inputs().split("test")
    assert float(raw.inputs[0].sum(1).max()) > 1  # bag-of-words counts, not row-normalised
    with torch.no_grad():
        expected = model(*raw.inputs)
        assert torch.equal(expected, model.network(*task.example_batch().inputs))
    loaded = run_torch_only(folder, [raw.inputs], tmp_path / "fresh")
    assert loaded["modules"] == []  # neither nas nor torch_geometric was imported
    assert loaded["arch"] == arch.to_dict() and loaded["space"] == "gnn"
    state = model.network.state_dict()
    assert loaded["state_dict"].keys() == state.keys()
    assert all(torch.equal(loaded["state_dict"][k], state[k]) for k in state)

    # Within 1e-4 of the largest logit's magnitude (float32 sums over 1433 raw features).
    assert parity_error(loaded["torchscript"][0], expected) <= 1e-4
    assert parity_error(loaded["onnx"][0], expected) <= 1e-4


def test_finetune_epochs_trains_the_checkpoint_further(quickstart_study, tmp_path):
    [folder] = export_trials("quickstart", storage=quickstart_study.url, trial=0, finetune_epochs=2,
                             formats="pt", out_dir=tmp_path / "out", data_dir=DATA_DIR)
    payload = torch.load(folder / "model.pt", weights_only=True)
    assert payload["weights_source"] == "trained+finetuned"
    card = (folder / "card.md").read_text()
    assert "fine-tuned at export for 2 epoch(s)" in card
    assert "torch.jit.load" not in card and "InferenceSession" not in card  # only written files
    model, _ = nas.load(folder)
    measured = payload["measured_at_export"]["val_accuracy"]
    assert _cora().evaluate(model.network, "val")["accuracy"] == pytest.approx(measured, abs=1e-9)
    assert sorted(p.name for p in folder.iterdir()) == [
        "SHA256SUMS", "arch.json", "card.md", "inputs.json", "model.pt"]


def test_best_selects_by_objective_or_metric(quickstart_study):
    study = optuna.load_study(study_name="quickstart", storage=quickstart_study.url)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    [smallest] = select_trials(study, best="params")
    assert smallest.values[1] == min(t.values[1] for t in complete)
    [fastest] = select_trials(study, best="latency_ms")
    assert fastest.user_attrs["metrics"]["latency_ms"] == min(
        t.user_attrs["metrics"]["latency_ms"] for t in complete)
    with pytest.raises(ExportError, match="'speed' is not a metric of this study; metrics: .*params"):
        select_trials(study, best="speed")


def test_unknown_and_failed_trials_are_one_line_errors(quickstart_study, tmp_path, nas_main):
    study_copy = quickstart_study.copy(tmp_path / "db")
    study = optuna.load_study(study_name="quickstart", storage=study_copy.url)
    failed = study.ask()
    failed.set_user_attr("error", "RuntimeError: out of memory")
    study.tell(failed, state=optuna.trial.TrialState.FAIL)
    out = tmp_path / "exported"
    recorded = _export_rows(study_copy.url, "quickstart")

    code, _, err = nas_main("export", "quickstart", "--trial", "99", "--storage", study_copy.url,
                            "--out", str(out))
    assert code == 2
    assert err == f"error: study 'quickstart' has no trial 99; trial numbers: 0..{failed.number}\n"
    code, _, err = nas_main("export", "quickstart", "--trial", str(failed.number),
                            "--storage", study_copy.url, "--out", str(out))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: trial {failed.number} of study 'quickstart' is FAIL, not COMPLETE "
                          "(RuntimeError: out of memory)")
    code, _, err = nas_main("export", "quickstart", "--trial", "0", "--format", "tflite",
                            "--storage", study_copy.url, "--out", str(out))
    assert code == 2 and err == "error: --format: 'tflite' is not allowed; allowed: pt, torchscript, onnx\n"
    assert _leftovers(out / "quickstart") == []
    assert _export_rows(study_copy.url, "quickstart") == recorded  # nothing recorded


def test_parity_failure_is_loud_and_leaves_nothing(quickstart_study, tmp_path, monkeypatch):
    from nas.export import _formats as _export_formats

    # No error is small enough: every portable format must then be refused.
    monkeypatch.setattr(_export_formats, "PARITY_TOLERANCE", -1.0)
    out = tmp_path / "exported"
    with pytest.raises(ExportError, match=r"^trial 1: torchscript parity check failed: outputs differ"
                       r".* on a real raw batch \(seed 1\): x \(2708, 1433\) float32"):
        export_trials("quickstart", storage=quickstart_study.url, trial=1, out_dir=out,
                      data_dir=DATA_DIR)
    assert _leftovers(out / "quickstart") == []


def test_corrupt_export_folder_is_a_one_line_error(quickstart_study, tmp_path, nas_main):
    out = tmp_path / "exported"
    [folder] = export_trials("quickstart", storage=quickstart_study.url, trial=2,
                             formats="pt,torchscript", out_dir=out, data_dir=DATA_DIR)
    code, stdout, _ = nas_main("check-export", str(folder))
    assert code == 0 and stdout.startswith(f"ok {folder}: gnn trial 2 of 'quickstart'")

    script = (folder / "model.ts").read_bytes()
    (folder / "model.ts").write_bytes(script[:-10] + b"0123456789")
    code, _, err = nas_main("check-export", str(folder))
    assert (code, err) == (2, f"error: {folder / 'model.ts'} is corrupt: its sha256 differs "
                              "from the one in SHA256SUMS\n")
    with pytest.raises(ExportError, match="model.ts is corrupt"):
        nas.load(folder)

    (folder / "model.ts").write_bytes(script)
    assert nas_main("check-export", str(folder))[0] == 0
    # One flipped byte in the weights: refused by check-export and nas.load alike.
    data = bytearray((folder / "model.pt").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "model.pt").write_bytes(bytes(data))
    code, _, err = nas_main("check-export", str(folder))
    assert (code, err) == (2, f"error: {folder / 'model.pt'} is corrupt: its sha256 differs "
                              "from the one in SHA256SUMS\n")
    with pytest.raises(ExportError, match="model.pt is corrupt: its sha256 differs"):
        nas.load(folder)
    (folder / "arch.json").unlink()
    (folder / "model.pt").unlink()
    code, _, err = nas_main("check-export", str(folder))
    assert (code, err) == (2, f"error: {folder} is not a complete export: model.pt is missing\n")

    # Exporting again replaces the corrupt folder with a whole, valid one.
    code, _, err = nas_main("export", "quickstart", "--trial", "2", "--format", "pt",
                            "--storage", quickstart_study.url, "--out", str(out))
    assert code == 0, err
    assert _leftovers(out / "quickstart") == ["2"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "SHA256SUMS", "arch.json", "card.md", "inputs.json", "model.pt"]
    assert nas_main("check-export", str(folder))[0] == 0


def test_nas_load_is_importable_without_torch():
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys, nas\n"
            "assert callable(nas.load)\n"
            "assert 'torch' not in sys.modules, 'import nas pulled in torch'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_readme_onnxruntime_example_runs_on_a_quickstart_export(quickstart_study, tmp_path):
    import re
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.export.conftest import _BLOCKER

    [folder] = export_trials("quickstart", storage=quickstart_study.url, trial=1,
                             formats="pt,onnx", out_dir=tmp_path / "out", data_dir=DATA_DIR)
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Export and load a model", 1)[1]
    [snippet] = [b for b in re.findall(r"```python\n(.*?)```", section, flags=re.S)
                 if "import onnxruntime" in b]
    code = _BLOCKER + snippet.replace("exported/quickstart/3", str(folder))
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.fullmatch(r"\[\d \d \d\]\n", done.stdout)
