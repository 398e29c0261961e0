"""``nas bench supernet``'s standalone reference: kept run by run, resumed, trained in parallel.

A 40 x 3 reference of a character model is hours of training; a process killed
near the end must not lose it, and two cores must be usable for it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from nas.bench.standalone_runs import RUNS_FILE, StandaloneJob, fingerprint, train_reference
from nas.bench.supernet_ranking import PRESETS, rank_supernet, seeded_archs, standalone_job
from search_spaces import create_space
from tests.conftest import REPO, run_nas
from tests.tiny_presets import TINY_CHARLM


def _job(data_dir: Path, epochs: int = 1) -> StandaloneJob:
    return StandaloneJob(space_name="charlm", task_name="tinyshakespeare",
                         space_choices=TINY_CHARLM.space_choices,
                         task_params=TINY_CHARLM.task_params, epochs=epochs, patience=epochs,
                         lr=0.005, optimizer="adam", grad_clip=1.0, task_seed=0, device="cpu",
                         data_dir=str(data_dir))


def _lines(folder: Path) -> list[dict]:
    return [json.loads(text) for text in (folder / RUNS_FILE).read_text().splitlines()
            if text.startswith("{") and text.endswith("}")]


def _standalone_csv(folder: Path) -> str:
    return (folder / "standalone.csv").read_text()


def test_a_killed_reference_resumes_with_only_the_missing_runs(
    tmp_path: Path, data_dir: Path
) -> None:
    first = rank_supernet("charlm", "tinyshakespeare", 3, tmp_path, preset=TINY_CHARLM,
                          data_dir=data_dir)
    runs = _lines(tmp_path)
    assert len(runs) == 6  # 3 architectures x 2 seeds, one line each as it finished
    assert {(r["repeat"], r["run_seed"]) for r in runs} == {(r, i + 1000 * r) for r in (0, 1)
                                                            for i in range(3)}
    reference = _standalone_csv(tmp_path)

    # Kill it after 4 runs, in the middle of writing the 5th line.
    text = (tmp_path / RUNS_FILE).read_text().splitlines()
    (tmp_path / RUNS_FILE).write_text("\n".join(text[:4]) + "\n" + text[4][:25])
    again = rank_supernet("charlm", "tinyshakespeare", 3, tmp_path, preset=TINY_CHARLM,
                          data_dir=data_dir, checkpoint=tmp_path / "supernet.pt")
    runs = _lines(tmp_path)
    assert len(runs) == 6  # 4 kept + 2 trained again; the cut line is skipped
    assert [r["run_seed"] for r in runs[4:]] == [1001, 1002]
    assert _standalone_csv(tmp_path) == reference  # same seeds, same scores
    assert again.kendall == pytest.approx(first.kendall, nan_ok=True)


def test_a_changed_budget_trains_anew_instead_of_mixing_budgets(
    tmp_path: Path, data_dir: Path
) -> None:
    archs = seeded_archs(create_space("charlm", TINY_CHARLM.space_choices), 2, seed=0)
    short, _ = train_reference(_job(data_dir), archs, 1, tmp_path)
    longer, _ = train_reference(_job(data_dir, epochs=2), archs, 1, tmp_path)
    runs = _lines(tmp_path)
    assert len(runs) == 4 and len({r["fingerprint"] for r in runs}) == 2
    assert longer != short
    # Each budget is read back under its own fingerprint.
    assert train_reference(_job(data_dir), archs, 1, tmp_path)[0] == short
    assert len(_lines(tmp_path)) == 4


def test_two_jobs_give_the_scores_of_one(tmp_path: Path, data_dir: Path) -> None:
    archs = seeded_archs(create_space("charlm", TINY_CHARLM.space_choices), 2, seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' share of a 2-core machine
    try:
        serial, _ = train_reference(_job(data_dir), archs, 2, tmp_path / "serial")
    finally:
        torch.set_num_threads(threads)
    parallel, seconds = train_reference(_job(data_dir), archs, 2, tmp_path / "parallel",
                                        jobs=2, threads=1)
    assert [s for seed in parallel for s in seed] == pytest.approx(
        [s for seed in serial for s in seed], abs=1e-6)
    assert len(seconds) == 4 and all(s > 0 for s in seconds)
    assert len(_lines(tmp_path / "parallel")) == 4


def test_a_failing_run_stops_the_queue_and_keeps_the_finished_ones(
    tmp_path: Path, data_dir: Path
) -> None:
    archs = seeded_archs(create_space("charlm", TINY_CHARLM.space_choices), 2, seed=0)
    train_reference(_job(data_dir), archs[:1], 1, tmp_path)
    broken = replace(_job(data_dir), optimizer="no-such-optimizer")
    with pytest.raises(Exception, match="no-such-optimizer"):
        train_reference(broken, archs, 1, tmp_path, jobs=2, threads=1)
    assert len(_lines(tmp_path)) == 1


def test_the_same_recipe_written_two_ways_shares_kept_runs(data_dir: Path) -> None:
    job = _job(data_dir)
    assert fingerprint(replace(job, lr=0.1, settings={"lr": job.lr})) == fingerprint(job)
    assert fingerprint(replace(job, settings={"schedule": "constant"})) == fingerprint(job)
    assert fingerprint(replace(job, settings={"schedule": "cosine"})) != fingerprint(job)
    assert fingerprint(replace(job, data_dir="/elsewhere")) == fingerprint(job)


def test_the_kept_charlm_reference_belongs_to_the_preset(data_dir: Path) -> None:
    # benchmarks/references/ keeps hours of the charlm preset's standalone runs; a change
    # to the preset's recipe would silently orphan them (a rerun would train them anew).
    preset = PRESETS[("charlm", "tinyshakespeare")]
    job = standalone_job("charlm", "tinyshakespeare", preset, seed=0, device="cpu")
    kept = REPO / "benchmarks" / "references" / "charlm-nanogpt-recipe.jsonl"
    runs = [json.loads(text) for text in kept.read_text().splitlines()]
    assert len(runs) >= 20
    assert {run["fingerprint"] for run in runs} == {fingerprint(job)}
    archs = seeded_archs(create_space("charlm", preset.space_choices), 40, seed=0)
    assert {run["arch_key"] for run in runs} <= {arch.key for arch in archs}


def test_the_recipe_reaches_training(tmp_path: Path, data_dir: Path) -> None:
    archs = seeded_archs(create_space("charlm", TINY_CHARLM.space_choices), 1, seed=0)
    constant, _ = train_reference(_job(data_dir, epochs=2), archs, 1, tmp_path)
    cosine, _ = train_reference(replace(_job(data_dir, epochs=2),
                                        settings={"schedule": "cosine", "lr": 0.02}),
                                archs, 1, tmp_path)
    assert cosine != constant
    assert len({r["fingerprint"] for r in _lines(tmp_path)}) == 2


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--standalone-settings", '{"schedul": "cosine"}',
     "--standalone-settings: unknown setting 'schedul'; allowed: epochs,"),
    ("--standalone-settings", '{"schedule": "cosin"}',
     "--standalone-settings: schedule: 'cosin' is not allowed; allowed: constant, cosine"),
    ("--standalone-settings", '{"beta2": "high"}',
     "--standalone-settings: beta2: must be float, got 'high'"),
    ("--standalone-settings", '{"warmup": -0.1}',
     "--standalone-settings: warmup: must be positive, got -0.1"),
    ("--task-params", "[1]", "--task-params: must be a JSON object"),
    ("--task-params", "{seq_len: 64}", "--task-params: not JSON"),
    ("--space-choices", '{"num_layers": [9]}',
     "--space-choices: num_layers: 9 is not allowed; allowed: 1, 2, 3, 4, 5, 6"),
    ("--space-choices", '{"depth": [2]}', "--space-choices: depth: unknown choice for space"),
])
def test_a_bad_recipe_flag_is_one_line_naming_it(flag: str, value: str, message: str,
                                                  tmp_path: Path) -> None:
    done = run_nas("bench", "supernet", "--space", "charlm", "--task", "tinyshakespeare",
                   "--out", str(tmp_path / "out"), flag, value)
    assert done.returncode != 0
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
