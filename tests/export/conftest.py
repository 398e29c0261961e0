"""Real studies for the export tests, made once by the real CLI and shared by xdist workers.

Each study lives in its own folder (SQLite file + the `train` evaluator's
checkpoints), built under a file lock in the session's shared temp root, so
two pytest-xdist workers never train the same study twice.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from tests.conftest import REPO
from tests.study_files import gnn_cora_study, search, study_toml, write_study


@dataclass(frozen=True)
class Study:
    name: str
    folder: Path
    url: str

    def copy(self, target: Path) -> Study:
        """A private copy of the study database (checkpoint paths stay valid: they are absolute)."""
        target.mkdir(parents=True, exist_ok=True)
        # The backup API, not a file copy: recent writes may still sit in the -wal file.
        source, copy = sqlite3.connect(self.folder / "study.db"), sqlite3.connect(target / "study.db")
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
        return Study(self.name, target, f"sqlite:///{target / 'study.db'}")


def quickstart_copy() -> str:
    """``studies/quickstart.toml`` cut down: 4 trials, 3 epochs, one process, CPU."""
    return _cut_down("quickstart.toml", {
        "n_trials = 24": "n_trials = 4",
        "n_jobs = 2": "n_jobs = 1",
        'device = "auto"': 'device = "cpu"',
        "epochs = 150, patience = 20, latency_repeats = 5": "epochs = 3, patience = 3, latency_repeats = 2",
        "population_size = 8": "population_size = 4",
    })


def gnn_supernet_copy() -> str:
    """``studies/gnn_supernet.toml`` cut down: a 2-epoch supernet, 2 trials, CPU."""
    return _cut_down("gnn_supernet.toml", {
        "epochs = 300": "epochs = 2",
        "n_trials = 40": "n_trials = 2",
        'device = "auto"': 'device = "cpu"',
        "latency_repeats = 5": "latency_repeats = 2",
    })


def _cut_down(file: str, replacements: dict[str, str]) -> str:
    text = (REPO / "studies" / file).read_text()
    for old, new in replacements.items():
        assert old in text, f"studies/{file} changed; update the test copy ({old})"
        text = text.replace(old, new)
    return text


def _tiny(name: str, **study: Any) -> str:
    """A one-process CPU study (``tests.study_files.study_toml``'s arguments)."""
    return study_toml(name, n_jobs=1, device="cpu", **study)


CHARLM_STUDY = _tiny(
    "tiny-charlm", space="charlm",
    task={"name": "tinyshakespeare",
          "params": {"seq_len": 32, "batch_size": 8, "steps_per_epoch": 4, "eval_tokens": 512}},
    objectives=[("val_loss", "minimize")],
    evaluator={"name": "train", "params": {"epochs": 1, "latency_repeats": 2}}, n_trials=2)

NB201_STUDY = _tiny("tiny-nb201", space="nb201", task="nb201-cifar10", evaluator="tabular",
                    n_trials=3)


def image_study(space: str, choices: dict[str, Any]) -> str:
    """One trial of ``space`` (narrowed to ``choices``) trained for an epoch on 16x16 CIFAR."""
    return _tiny(
        f"tiny-{space}", space={"name": space, "choices": choices},
        task={"name": "cifar10-subset",
              "params": {"train_size": 128, "val_size": 100, "batch_size": 64, "image_size": 16}},
        evaluator={"name": "train", "params": {"epochs": 1, "latency_repeats": 1}}, n_trials=1)


#: One trial per conv type of the gnn space (enqueued), max aggregation where a conv has one.
GNN_CONVS_STUDY = gnn_cora_study(
    "gnn-convs", {"pre_layers": 1, "mp_layers": 2, "post_layers": 1, "hidden_dim": 16,
                  "heads": [1, 2]}, epochs=2, n_trials=7)


def enqueue_every_conv(folder: Path, url: str) -> None:
    """Create the gnn-convs study as `nas search` would and queue one trial per conv type."""
    from nas.config import load_study_file
    from nas.search.study import create_or_load_study
    from nas.store import open_storage
    from search_spaces.gnn import CONV_TYPES

    config = load_study_file(folder / "study.toml")
    study = create_or_load_study(replace(config, storage=url), open_storage(url))
    for conv in CONV_TYPES:
        aggregation = "max" if conv in ("sage", "gin", "graphconv") else "add"
        study.enqueue_trial({"conv": conv, "aggregation": aggregation,
                             "propagation_steps": 5 if conv == "gcn" else 0})


def _shared_study(tmp_path_factory: pytest.TempPathFactory, name: str, toml: str,
                  prepare=None) -> Study:
    # Under xdist each worker's basetemp is <session root>/popen-gwN: share the session root.
    # Without xdist the basetemp itself is the session's (its parent outlives the session).
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / f"export-study-{name}"
    with FileLock(str(root / f"export-study-{name}.lock")):
        done = folder / "done.json"
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            study_file = write_study(folder, toml)
            url = f"sqlite:///{folder / 'study.db'}"
            if prepare is not None:
                prepare(folder, url)
            if "[supernet]" in toml:
                search(study_file, url, command="train-supernet")
            search(study_file, url)
            done.write_text(json.dumps({"url": url}))
        url = json.loads(done.read_text())["url"]
    return Study(name, folder, url)


@pytest.fixture(scope="session")
def quickstart_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return _shared_study(tmp_path_factory, "quickstart", quickstart_copy())


@pytest.fixture(scope="session")
def charlm_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return _shared_study(tmp_path_factory, "tiny-charlm", CHARLM_STUDY)


@pytest.fixture(scope="session")
def gnn_supernet_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return _shared_study(tmp_path_factory, "gnn-supernet", gnn_supernet_copy())


@pytest.fixture(scope="session")
def mobilenet_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    choices = {"width_mult": 0.25, **{f"s{i}_depth": 1 for i in range(1, 6)}}
    return _shared_study(tmp_path_factory, "tiny-mobilenet", image_study("mobilenet", choices))


@pytest.fixture(scope="session")
def vit_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    choices = {"depth": 2, "embed_dim": 48, "patch_size": 4, "layer1_heads": 4, "layer2_heads": 4}
    return _shared_study(tmp_path_factory, "tiny-vit", image_study("vit", choices))


@pytest.fixture(scope="session")
def gnn_convs_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return _shared_study(tmp_path_factory, "gnn-convs", GNN_CONVS_STUDY, enqueue_every_conv)


@pytest.fixture(scope="session")
def nb201_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return _shared_study(tmp_path_factory, "tiny-nb201", NB201_STUDY)


# A fresh interpreter that can import torch and onnxruntime but none of our packages
# (nor torch_geometric): what a user without nas installed has.
_BLOCKER = '''
import sys
BLOCKED = ("nas", "search_spaces", "supernets", "proxies", "dashboard", "torch_geometric",
           "torch_scatter", "torch_sparse")

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("not available in a torch-only process: " + name)
        return None

sys.meta_path.insert(0, Blocker())
'''

_TORCH_ONLY = _BLOCKER + '''
import torch

folder, inputs_file, outputs_file = sys.argv[1:4]
payload = torch.load(folder + "/model.pt", map_location="cpu", weights_only=True)
input_sets = torch.load(inputs_file, weights_only=True)
outputs = {"arch": payload["arch"], "space": payload["space"], "state_dict": payload["state_dict"],
           "torchscript": [], "onnx": []}
scripted = torch.jit.load(folder + "/model.ts", map_location="cpu")
import onnxruntime
session = onnxruntime.InferenceSession(folder + "/model.onnx", providers=["CPUExecutionProvider"])
names = [i["name"] for i in payload["inputs"]]
for inputs in input_sets:
    with torch.no_grad():
        outputs["torchscript"].append(scripted(*inputs))
    feeds = {n: t.numpy() for n, t in zip(names, inputs)}
    outputs["onnx"].append(torch.from_numpy(session.run(None, feeds)[0]))
outputs["modules"] = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in BLOCKED})
torch.save(outputs, outputs_file)
'''


def run_torch_only(folder: Path, input_sets: list[tuple], work: Path) -> dict:
    """Load an export in a fresh torch + onnxruntime process; run model.ts and model.onnx.

    ``input_sets``: several tuples of raw input tensors; outputs come back as
    lists in the same order.
    """
    import torch

    work.mkdir(parents=True, exist_ok=True)
    inputs_file, outputs_file = work / "inputs.pt", work / "outputs.pt"
    torch.save([tuple(t.contiguous() for t in inputs) for inputs in input_sets], inputs_file)
    done = subprocess.run(
        [sys.executable, "-I", "-c", _TORCH_ONLY, str(folder), str(inputs_file), str(outputs_file)],
        cwd=work, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(outputs_file, weights_only=True)


def run_card_example(folder: Path) -> str:
    """Run the card's onnxruntime snippet as written, in the export folder, without nas."""
    card = (folder / "card.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", card, flags=re.S)
    [snippet] = [b for b in blocks if "onnxruntime" in b]
    code = _BLOCKER + snippet + "\nprint(logits.shape)\n"
    done = subprocess.run([sys.executable, "-I", "-c", code], cwd=folder, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


@pytest.fixture
def nas_main(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run the ``nas`` CLI's ``main()`` in this process: ``(exit code, stdout, stderr)``.

    The same entry point as the console script, without paying for a new
    interpreter (torch + PyG imports) for every error case.
    """
    from tests.conftest import DATA_DIR

    monkeypatch.setenv("NAS_DATA_DIR", str(DATA_DIR))

    def run(*args: str) -> tuple[int, str, str]:
        from nas.cli import main

        monkeypatch.setattr(sys, "argv", ["nas", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return run
