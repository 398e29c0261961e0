"""A user's space from a folder outside the package, searched on PostgreSQL by 2 worker
processes of `nas search` plus one `nas worker`; then `nas show`, `nas export --pareto` and
`nas.load` in fresh processes find the plugin through the study alone (its file deleted by then:
the study stores the plugin's source)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.integration.conftest import REPO, nas_env, start_nas, stop, trials, wait_for
from tests.study_files import ACCURACY, PARAMS, study_toml, write_study

pytestmark = pytest.mark.postgres

SPACE = '''
import torch.nn as nn
from search_spaces import Categorical, SearchSpace, register_space


@register_space("user-cnn")
class UserCNN(SearchSpace):
    """Two conv widths and an optional second conv: a user's own family."""

    families = ("image",)

    def base_choices(self):
        return {"width": Categorical((8, 4, 16)), "second_conv": Categorical((False, True))}

    def build(self, arch, spec):
        width = arch["width"]
        layers = [nn.Conv2d(spec.input_dim, width, 3, padding=1), nn.ReLU()]
        if arch["second_conv"]:
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, spec.num_classes)]
        return nn.Sequential(*layers)
'''


def _study(name: str) -> str:
    return study_toml(
        name, device="cpu", n_jobs=2, plugins=["plugins/user_cnn.py"], space="user-cnn",
        task={"name": "image-classification",
              "params": {"path": "data/digits.npz", "batch_size": 64}},
        objectives=(ACCURACY, PARAMS),
        evaluator={"name": "train", "params": {"epochs": 3, "patience": 3, "latency_repeats": 1}},
        n_trials=5)


def _exists(url: str, name: str) -> bool:
    from nas.store import list_studies, read_engine

    studies = list_studies(read_engine(url))
    return bool(len(studies)) and name in set(studies.study_name)


def test_plugin_space_searched_by_three_workers_then_shown_exported_and_loaded(
        postgres_url, tmp_path):
    from sklearn.datasets import load_digits

    from nas.store import read_engine

    project = tmp_path / "project"
    (project / "plugins").mkdir(parents=True)
    (project / "data").mkdir()
    (project / "plugins" / "user_cnn.py").write_text(SPACE)
    digits = load_digits()
    np.savez(project / "data" / "digits.npz", x=np.rint(digits.images[:400] * 255 / 16).astype(
        np.uint8), y=digits.target[:400])
    name = "user-plugin"
    write_study(project, _study(name))
    elsewhere = tmp_path / "elsewhere"  # workers, exporter and loader run from another folder
    elsewhere.mkdir()
    env = nas_env(NAS_PLUGIN_CACHE=str(tmp_path / "plugin-cache"))
    search = start_nas("search", str(project / "study.toml"), "--storage", postgres_url,
                       "--no-progress", cwd=elsewhere, env=env, log=tmp_path / "search.log")
    worker = None
    try:
        # Joined once the search's own processes run trials; the `nas worker` knows only the
        # study name and the storage: the plugin comes from the study.
        wait_for("a first complete trial", lambda: (
            trials(read_engine(postgres_url), name).state == "COMPLETE").any()
            if _exists(postgres_url, name) else False, timeout=300, every=1)
        worker = start_nas("worker", name, "--storage", postgres_url, "--no-progress",
                           cwd=elsewhere, env=env, log=tmp_path / "worker.log")
        assert search.wait(timeout=400) == 0, (tmp_path / "search.log").read_text()[-3000:]
        assert worker.wait(timeout=120) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        stop(search)
        if worker is not None:
            stop(worker)
    frame = trials(read_engine(postgres_url), name)
    complete = frame[frame.state == "COMPLETE"]
    # 5 distinct of the space's 6 architectures: a re-proposal is PRUNED, never paid twice.
    assert len(complete) == 5 and set(frame.state) <= {"COMPLETE", "PRUNED"}
    assert complete.arch_key.is_unique
    # The `nas worker` built the study's space from the plugin (it exits 2 if it cannot);
    # how many trials each process won depends on the machine's load.
    assert "study 'user-plugin': 5 complete, 0 failed" in (tmp_path / "worker.log").read_text()
    # As on another machine: the plugin file is gone; the study holds its source.
    (project / "plugins" / "user_cnn.py").unlink()

    def nas_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "nas", *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=300)

    shown = nas_cli("show", name, "--storage", postgres_url, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    front = json.loads(shown.stdout)
    assert front and all(set(row["arch"]) == {"width", "second_conv"} for row in front)
    exported = nas_cli("export", name, "--storage", postgres_url, "--pareto", "--out",
                       str(tmp_path / "exported"))
    assert exported.returncode == 0, exported.stderr
    folders = sorted((tmp_path / "exported" / name).iterdir())
    assert len(folders) == len(front)
    loader = (
        "import sys, torch, nas\n"
        "model, arch = nas.load(sys.argv[1])\n"
        # the export takes raw images as the task's file holds them: uint8, N x H x W x C
        "raw = torch.zeros(2, 8, 8, 1, dtype=torch.uint8)\n"
        "print(type(model).__name__, model(raw).shape[1], arch['width'])\n"
    )
    loaded = subprocess.run([sys.executable, "-c", loader, str(folders[0])], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    kind, classes, width = loaded.stdout.split()
    assert (kind, classes) == ("ExportedModel", "10") and int(width) in (4, 8, 16)
    assert not list(REPO.glob("**/user_cnn.py")), "the package is untouched"
    assert [p.name for p in (tmp_path / "plugin-cache").glob("*/*")] == ["user_cnn.py"]
