"""Weights live in the study's artifact store: nothing keyed by folder or study name, all hashed.

Real searches with the real CLI, a real file store, real SIGKILLs.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
import torch

import nas
from nas.export import export_trials
from nas.store.artifacts import WEIGHTS_ATTR, AtomicFileSystemArtifactStore, sha256_of
from tests.conftest import DATA_DIR, REPO
from tests.study_files import gnn_cora_study, search, write_study

#: one trained GNN trial on Cora, the same study file in two storages (its seed apart)
TWIN_CHOICES = {"conv": "gcn", "pre_layers": 1, "mp_layers": 1, "post_layers": 1, "hidden_dim": 16,
                "propagation_steps": 0}


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two studies named `twin` in two SQLite files, both searched from one folder."""
    folder = tmp_path_factory.mktemp("twins")
    for name, seed in (("a", 0), ("b", 1)):
        study = gnn_cora_study("twin", TWIN_CHOICES, epochs=3, seed=seed)
        search(write_study(folder, study, f"{name}.toml"), _url(folder, name))
    return folder


def _url(folder: Path, name: str) -> str:
    return f"sqlite:///{folder / name}.db"


def _cora():
    from nas.tasks import create_task

    task = create_task("cora", data_dir=DATA_DIR, seed=0)
    task.prepare("cpu")
    return task


def test_same_name_studies_in_two_storages_export_their_own_weights(twins, tmp_path, monkeypatch):
    monkeypatch.chdir(twins)  # the folder both searches ran in
    assert not (twins / "checkpoints").exists()  # nothing keyed by the working folder
    task = _cora()
    exported = {}
    for name in ("a", "b"):
        trial = optuna.load_study(study_name="twin", storage=_url(twins, name)).trials[0]
        record = trial.user_attrs[WEIGHTS_ATTR]
        assert (twins / f"{name}.db.artifacts" / record["id"]).is_file()
        [folder] = export_trials("twin", storage=_url(twins, name), trial=0, formats="pt",
                                 out_dir=tmp_path / name, data_dir=DATA_DIR)
        model, _ = nas.load(folder)
        # Each export reproduces its own study's recorded validation accuracy.
        assert task.evaluate(model.network, "val")["accuracy"] == pytest.approx(
            trial.values[0], abs=1e-9)
        exported[name] = model.network.state_dict()
    assert any(not torch.equal(exported["a"][k], exported["b"][k]) for k in exported["a"])


def test_a_flipped_byte_in_the_weights_is_refused_with_one_line(twins, tmp_path, nas_main):
    # A private copy of study b and its store (the copy is named with --artifacts).
    shutil.copy(twins / "b.db", tmp_path / "b.db")
    store = shutil.copytree(twins / "b.db.artifacts", tmp_path / "store")
    url = f"sqlite:///{tmp_path / 'b.db'}"
    record = optuna.load_study(study_name="twin", storage=url).trials[0].user_attrs[WEIGHTS_ATTR]
    data = bytearray((store / record["id"]).read_bytes())
    data[len(data) // 3] ^= 0x10
    (store / record["id"]).write_bytes(bytes(data))

    code, _, err = nas_main("export", "twin", "--trial", "0", "--storage", url,
                            "--artifacts", str(store), "--out", str(tmp_path / "out"))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: trial 0 of study 'twin': artifact {record['id']} is corrupt: "
                          "sha256 ")
    assert f"differs from the recorded {record['sha256'][:12]}" in err
    assert not (tmp_path / "out" / "twin" / "0").exists()


def test_nas_delete_removes_the_study_and_its_artifacts_only(twins, tmp_path, nas_main,
                                                            monkeypatch):
    for name in ("a", "b"):
        shutil.copy(twins / f"{name}.db", tmp_path / f"{name}.db")
        shutil.copytree(twins / f"{name}.db.artifacts", tmp_path / f"{name}-store")
    url_a, url_b = (f"sqlite:///{tmp_path / n}.db" for n in ("a", "b"))
    files_b = list((tmp_path / "b-store").iterdir())
    assert files_b

    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))  # asked, and the answer is no
    code, out, _ = nas_main("delete", "twin", "--storage", url_b,
                            "--artifacts", str(tmp_path / "b-store"))
    assert code == 1 and "delete study 'twin' and all its artifacts?" in out
    assert optuna.get_all_study_names(url_b) == ["twin"]
    assert sorted((tmp_path / "b-store").iterdir()) == sorted(files_b)

    code, out, _ = nas_main("delete", "twin", "--storage", url_b, "--yes",
                            "--artifacts", str(tmp_path / "b-store"))
    assert code == 0 and out == f"deleted study 'twin' and {len(files_b)} artifact(s)\n"
    assert list((tmp_path / "b-store").iterdir()) == []
    assert optuna.get_all_study_names(url_b) == []
    code, _, err = nas_main("delete", "twin", "--storage", url_b, "--yes")
    assert (code, err) == (2, "error: study 'twin' not found in sqlite storage\n")
    # The same-named study in the other storage keeps its weights and still exports.
    [folder] = export_trials("twin", storage=url_a, trial=0, formats="pt", out_dir=tmp_path / "out",
                             data_dir=DATA_DIR, artifacts=str(tmp_path / "a-store"))
    assert nas.load(folder)[0] is not None


_SLOW_WRITER = textwrap.dedent("""
    import io, sys, time
    from nas.store.artifacts import AtomicFileSystemArtifactStore

    class Slow(io.RawIOBase):
        def __init__(self):
            self.sent = 0
        def readable(self):
            return True
        def readinto(self, buffer):
            if self.sent >= 1 << 20:
                open(sys.argv[2], "w").close()  # half of it is written: kill me now
                time.sleep(60)
            n = min(len(buffer), 1 << 16)
            buffer[:n] = b"x" * n
            self.sent += n
            return n

    AtomicFileSystemArtifactStore(sys.argv[1]).write("new", io.BufferedReader(Slow()))
""")


def test_a_write_killed_halfway_leaves_the_previous_artifact_readable(tmp_path):
    store = AtomicFileSystemArtifactStore(tmp_path / "store")
    (tmp_path / "weights.pt").write_bytes(os.urandom(4096))
    digest = sha256_of(tmp_path / "weights.pt")
    with open(tmp_path / "weights.pt", "rb") as handle:
        store.write("old", handle)

    ready = tmp_path / "half-written"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(tmp_path / "store"), str(ready)],
                              env=env)
    deadline = time.monotonic() + 60
    while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the writer never got half-way"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)

    from optuna.artifacts.exceptions import ArtifactNotFound

    with pytest.raises(ArtifactNotFound):
        store.open_reader("new")  # no half-written artifact is visible
    with store.open_reader("old") as reader:
        (tmp_path / "back.pt").write_bytes(reader.read())
    assert sha256_of(tmp_path / "back.pt") == digest


def test_a_tabular_trial_needs_finetune_or_untrained(nb201_study, tmp_path, nas_main):
    out = tmp_path / "out"
    code, _, err = nas_main("export", "tiny-nb201", "--best", "val_accuracy", "--storage",
                            nb201_study.url, "--out", str(out))
    best = optuna.load_study(study_name="tiny-nb201", storage=nb201_study.url).best_trial.number
    assert (code, err) == (2, f"error: trial {best} was scored by the `tabular` fidelity and has no "
                              "trained weights; pass --finetune-epochs E to train it, or "
                              "--untrained to export its random initialisation\n")
    assert not (out / "tiny-nb201" / str(best)).exists()

    code, _, err = nas_main("export", "tiny-nb201", "--best", "val_accuracy", "--untrained",
                            "--format", "pt", "--task-param", "image_size=16",
                            "--storage", nb201_study.url, "--out", str(out))
    assert code == 0, err
    folder = out / "tiny-nb201" / str(best)
    assert torch.load(folder / "model.pt", weights_only=True)["weights_source"] == "random-init"
    card = (folder / "card.md").read_text()
    assert "**untrained**" in card and "exported with --untrained" in card
