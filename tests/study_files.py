"""Study files for the tests that run the real CLI: one template, filled in per study.

    text = study_toml("tiny", space="nb201", task="nb201-cifar10", evaluator="tabular",
                      n_trials=3, device="cpu")
    search(write_study(folder, text), f"sqlite:///{folder / 'study.db'}")

``space``, ``task``, ``sampler`` and ``evaluator`` take a name, or a table with
its ``name`` and the rest (``choices``, ``params``), as a study file writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.conftest import run_nas

#: the objectives most test studies trade off
ACCURACY = ("val_accuracy", "maximize")
PARAMS = ("params", "minimize")


def study_toml(name: str, *, space: str | Mapping[str, Any], task: str | Mapping[str, Any],
               n_trials: int, objectives: Sequence[tuple[str, str]] = (ACCURACY,),
               sampler: str | Mapping[str, Any] = "random",
               evaluator: str | Mapping[str, Any] = "train", seed: int = 0, **top: Any) -> str:
    """The text of a study file; ``top``: more top-level keys (``device``, ``n_jobs``, ``plugins``)."""
    lines = [f"name = {_value(name)}", f"seed = {seed}"]
    lines += [f"{key} = {_value(value)}" for key, value in top.items()]
    lines += _table("space", space) + _table("task", task)
    for metric, direction in objectives:
        lines += ["[[objectives]]", f"metric = {_value(metric)}", f"direction = {_value(direction)}"]
    lines += _table("sampler", sampler) + _table("evaluator", evaluator)
    lines += ["[budget]", f"n_trials = {n_trials}"]
    return "\n".join(lines) + "\n"


def gnn_cora_study(name: str, choices: Mapping[str, Any], *, epochs: int, n_trials: int = 1,
                   seed: int = 0) -> str:
    """A GNN trained on Cora for ``epochs`` (patience as long) in one CPU process: the
    smallest study whose trials leave weights to export."""
    return study_toml(
        name, seed=seed, n_jobs=1, device="cpu", space={"name": "gnn", "choices": choices},
        task="cora",
        evaluator={"name": "train",
                   "params": {"epochs": epochs, "patience": epochs, "latency_repeats": 1}},
        n_trials=n_trials)


def write_study(folder: Path, text: str, file: str = "study.toml") -> Path:
    """``text`` written to ``folder / file`` (the folder made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file).write_text(text)
    return folder / file


def search(study_file: Path, url: str, *, command: str = "search", env: dict[str, str] | None = None,
           timeout: float = 600) -> None:
    """``nas search`` (or ``command``, e.g. ``train-supernet``) on ``study_file`` into ``url``,
    run in the study's folder as a user would (the train evaluator writes ``checkpoints/`` there)."""
    done = run_nas(command, study_file.name, "--storage", url, "--no-progress",
                   cwd=study_file.parent, env=env, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]


def _table(key: str, value: str | Mapping[str, Any]) -> list[str]:
    table = {"name": value} if isinstance(value, str) else value
    return [f"[{key}]", *(f"{k} = {_value(v)}" for k, v in table.items())]


def _value(value: Any) -> str:
    """``value`` in TOML: strings, numbers, booleans, lists and inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(_value(v) for v in value) + "]"
