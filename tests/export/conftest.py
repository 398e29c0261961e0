"""Real studies for the export tests, made once by the real CLI and shared by xdist workers.

Each study lives in its own folder (SQLite file + the `train` evaluator's
checkpoints), built under a file lock in the session's shared temp root, so
two pytest-xdist workers never train the same study twice.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from tests.conftest import REPO, run_nas


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
    text = (REPO / "studies" / "quickstart.toml").read_text()
    replacements = {
        "n_trials = 24": "n_trials = 4",
        "n_jobs = 2": "n_jobs = 1",
        'device = "auto"': 'device = "cpu"',
        "epochs = 150, patience = 20, latency_repeats = 5": "epochs = 3, patience = 3, latency_repeats = 2",
        "population_size = 8": "population_size = 4",
    }
    for old, new in replacements.items():
        assert old in text, f"studies/quickstart.toml changed; update the test copy ({old})"
        text = text.replace(old, new)
    return text


CHARLM_STUDY = textwrap.dedent("""
    name = "tiny-charlm"
    seed = 0
    n_jobs = 1
    device = "cpu"

    [space]
    name = "charlm"

    [task]
    name = "synthetic-seq"
    params = { steps_per_epoch = 4, eval_tokens = 512, length = 4000 }

    [[objectives]]
    metric = "val_loss"
    direction = "minimize"

    [sampler]
    name = "random"

    [evaluator]
    name = "train"
    params = { epochs = 1, latency_repeats = 2 }

    [budget]
    n_trials = 2
""")

NB201_STUDY = textwrap.dedent("""
    name = "tiny-nb201"
    seed = 0
    n_jobs = 1
    device = "cpu"

    [space]
    name = "nb201"

    [task]
    name = "nb201-cifar10"

    [[objectives]]
    metric = "val_accuracy"
    direction = "maximize"

    [sampler]
    name = "random"

    [evaluator]
    name = "tabular"

    [budget]
    n_trials = 3
""")


def _shared_study(tmp_path_factory: pytest.TempPathFactory, name: str, toml: str) -> Study:
    # Under xdist each worker's basetemp is <session root>/popen-gwN: share the session root.
    # Without xdist the basetemp itself is the session's (its parent outlives the session).
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / f"export-study-{name}"
    with FileLock(str(root / f"export-study-{name}.lock")):
        done = folder / "done.json"
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            (folder / "study.toml").write_text(toml)
            url = f"sqlite:///{folder / 'study.db'}"
            # cwd = the study folder: the train evaluator writes checkpoints/<study>/ there.
            if "[supernet]" in toml:
                result = run_nas("train-supernet", "study.toml", "--storage", url, "--no-progress",
                                 cwd=folder)
                assert result.returncode == 0, result.stderr[-2000:]
            result = run_nas("search", "study.toml", "--storage", url, "--no-progress", cwd=folder)
            assert result.returncode == 0, result.stderr[-2000:]
            done.write_text(json.dumps({"url": url}))
        url = json.loads(done.read_text())["url"]
    return Study(name, folder, url)


def gnn_supernet_copy() -> str:
    """``studies/gnn_supernet.toml`` cut down: a 2-epoch supernet, 2 trials, CPU."""
    text = (REPO / "studies" / "gnn_supernet.toml").read_text()
    replacements = {
        "epochs = 300": "epochs = 2",
        "n_trials = 40": "n_trials = 2",
        'device = "auto"': 'device = "cpu"',
        "latency_repeats = 5": "latency_repeats = 2",
    }
    for old, new in replacements.items():
        assert old in text, f"studies/gnn_supernet.toml changed; update the test copy ({old})"
        text = text.replace(old, new)
    return text


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
def nb201_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    return _shared_study(tmp_path_factory, "tiny-nb201", NB201_STUDY)


# A fresh interpreter that can import torch and onnxruntime but none of our packages
# (nor torch_geometric): what a user without nas installed has.
_TORCH_ONLY = '''
import sys
BLOCKED = ("nas", "search_spaces", "supernets", "proxies", "dashboard", "torch_geometric",
           "torch_scatter", "torch_sparse")

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("not available in a torch-only process: " + name)
        return None

sys.meta_path.insert(0, Blocker())
import torch

folder, inputs_file, outputs_file = sys.argv[1:4]
payload = torch.load(folder + "/model.pt", map_location="cpu", weights_only=True)
inputs = torch.load(inputs_file, weights_only=True)
outputs = {"arch": payload["arch"], "space": payload["space"], "state_dict": payload["state_dict"]}
scripted = torch.jit.load(folder + "/model.ts", map_location="cpu")
with torch.no_grad():
    outputs["torchscript"] = scripted(*inputs)
try:
    import onnxruntime
except ImportError:
    onnxruntime = None
if onnxruntime is not None:
    session = onnxruntime.InferenceSession(folder + "/model.onnx", providers=["CPUExecutionProvider"])
    names = [i["name"] for i in payload["inputs"]]
    feeds = {n: t.numpy() for n, t in zip(names, inputs)}
    outputs["onnx"] = torch.from_numpy(session.run(None, feeds)[0])
outputs["modules"] = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in BLOCKED})
torch.save(outputs, outputs_file)
'''


def run_torch_only(folder: Path, inputs: tuple, work: Path) -> dict:
    """Load an export in a fresh torch-only process and run model.ts / model.onnx on ``inputs``."""
    import torch

    work.mkdir(parents=True, exist_ok=True)
    inputs_file, outputs_file = work / "inputs.pt", work / "outputs.pt"
    torch.save(tuple(t.contiguous() for t in inputs), inputs_file)
    done = subprocess.run(
        [sys.executable, "-I", "-c", _TORCH_ONLY, str(folder), str(inputs_file), str(outputs_file)],
        cwd=work, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(outputs_file, weights_only=True)


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
