"""``nas bench supernet``'s report (issue 21): FLOPs beside params, verdicts, a mean-vs-mean
self-agreement, and the vit and charlm presets end to end (bpc: lower is better)."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest
from scipy.stats import kendalltau

from nas.bench.ranking_report import above, flop_counts, half_seed_kendall, reused_seeds
from nas.bench.supernet_ranking import PRESETS, RankingResult, rank_supernet, seeded_archs
from nas.tasks import create_task
from search_spaces import create_space
from tests.tiny_presets import TINY_CHARLM, TINY_VIT

NEW_COLUMNS = ("params_ci_low", "params_ci_high", "flops_kendall", "flops_ci_low",
               "flops_ci_high", "above_params", "above_flops", "speedup",
               "speedup_at_least_50", "standalone_seeds", "standalone_half_kendall",
               "reference_trusted")



def _summary(folder: Path) -> dict[str, str]:
    with open(folder / "summary.csv", newline="") as handle:
        return next(csv.DictReader(handle))


def _per_seed(folder: Path) -> list[list[float]]:
    with open(folder / "standalone.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [[float(row[name]) for row in rows] for name in rows[0] if name != "arch_key"]


def test_vit_reports_flops_beside_params_and_the_half_seed_agreement(
    tmp_path: Path, data_dir: Path
) -> None:
    result = rank_supernet("vit", "cifar10-subset", 4, tmp_path, preset=TINY_VIT,
                           data_dir=data_dir)
    summary = _summary(tmp_path)
    assert set(NEW_COLUMNS) <= set(summary)
    standalone = [s for _, _, s in result.rows]
    space = create_space("vit", TINY_VIT.space_choices)
    task = create_task("cifar10-subset", seed=0, data_dir=str(data_dir), **TINY_VIT.task_params)
    task.prepare("cpu")
    flops = flop_counts(space, task, seeded_archs(space, 4, seed=0))
    assert len(set(flops)) > 1  # depth 1 vs 2: the baseline ranks something
    assert result.flops_kendall == pytest.approx(kendalltau(flops, standalone).statistic,
                                                 nan_ok=True)
    assert float(summary["flops_kendall"]) == pytest.approx(result.flops_kendall, abs=1e-4,
                                                            nan_ok=True)
    per_seed = _per_seed(tmp_path)
    assert int(summary["standalone_seeds"]) == len(per_seed) == 3
    assert result.standalone_half_kendall == pytest.approx(half_seed_kendall(per_seed),
                                                           nan_ok=True)
    assert summary["above_params"] in ("yes", "no", "n/a")
    assert summary["speedup_at_least_50"] == ("yes" if result.speedup >= 50 else "no")

    # Reusing the standalone scores keeps the self-agreement (read back from standalone.csv).
    again = rank_supernet("vit", "cifar10-subset", 4, tmp_path / "again", preset=TINY_VIT,
                          data_dir=data_dir, checkpoint=tmp_path / "supernet.pt",
                          reuse_standalone=tmp_path)
    assert again.standalone_seeds == 3
    assert again.standalone_half_kendall == pytest.approx(result.standalone_half_kendall,
                                                          nan_ok=True)
    assert again.kendall == pytest.approx(result.kendall, nan_ok=True)


def test_charlm_scores_bits_per_character_lower_is_better(tmp_path: Path, data_dir: Path) -> None:
    result = rank_supernet("charlm", "tinyshakespeare", 3, tmp_path, preset=TINY_CHARLM,
                           data_dir=data_dir)
    # Every score is minus bits per character (a few bits: log2 of ~65 characters at most),
    # so a lower bpc ranks higher on both sides.
    for seed_scores in _per_seed(tmp_path):
        assert all(-7.0 < score < 0.0 for score in seed_scores)
    from nas.evaluators.supernet import SupernetEvaluator
    from nas.supernet.from_study import load_supernet

    space = create_space("charlm", TINY_CHARLM.space_choices)
    task = create_task("tinyshakespeare", seed=0, data_dir=str(data_dir),
                       **TINY_CHARLM.task_params)
    task.prepare("cpu")
    supernet = load_supernet(tmp_path / "supernet.pt", space, task)
    supernet.eval()
    evaluator = SupernetEvaluator(space, task, {"bn_batches": 1, "hardware": False}, seed=0)
    archs = seeded_archs(space, 3, seed=0)
    bpc = [evaluator.score(supernet, arch)["val_bpc"] for arch in archs]
    assert [score for _, score, _ in result.rows] == pytest.approx([-b for b in bpc])
    standalone = [s for _, _, s in result.rows]
    assert result.kendall == pytest.approx(kendalltau([-b for b in bpc], standalone).statistic,
                                           nan_ok=True)
    assert set(NEW_COLUMNS) <= set(_summary(tmp_path))


def test_verdicts_compare_the_interval_low_end_and_say_na_without_a_figure() -> None:
    base = RankingResult(kendall=0.6, spearman=0.7, n=40, supernet_seconds_per_arch=0.1,
                         standalone_seconds_per_arch=6.0, supernet_train_seconds=1.0, rows=[],
                         kendall_interval=(0.45, 0.7), params_kendall=0.40, flops_kendall=0.50)
    assert (base.above_params, base.above_flops) == (True, False)
    assert base.speedup == pytest.approx(60.0) and base.fast_enough is True
    table = RankingResult(kendall=0.5, spearman=0.6, n=200, supernet_seconds_per_arch=0.1,
                          standalone_seconds_per_arch=float("nan"), supernet_train_seconds=1.0,
                          rows=[], kendall_interval=(0.4, 0.6))
    assert (table.fast_enough, table.above_params) == (None, None)
    assert above(50.0, 50.0, or_equal=True) is True and above(0.5, 0.5) is False
    assert base.reference_trusted is None  # no seeds behind it: nothing to say
    assert replace(base, standalone_half_kendall=0.8).reference_trusted is True
    assert replace(base, standalone_half_kendall=0.79).reference_trusted is False


def test_half_seed_agreement_is_a_mean_against_a_mean() -> None:
    seeds = [[1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 4.0, 3.0], [1.0, 3.0, 2.0, 5.0]]
    second = [(a + b) / 2 for a, b in zip(seeds[1], seeds[2])]
    assert half_seed_kendall(seeds) == pytest.approx(kendalltau(seeds[0], second).statistic)
    assert half_seed_kendall(seeds[:2]) != half_seed_kendall(seeds[:2])  # nan below 3 seeds


def test_reused_seeds_need_every_arch(tmp_path: Path) -> None:
    space = create_space("nb201", {})
    archs = seeded_archs(space, 3, seed=0)
    with open(tmp_path / "standalone.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arch_key", "seed0", "seed1"])
        writer.writerows([a.key, i, -i] for i, a in enumerate(archs))
    assert reused_seeds(tmp_path, archs) == [[0.0, 1.0, 2.0], [0.0, -1.0, -2.0]]
    assert reused_seeds(tmp_path, seeded_archs(space, 4, seed=0)) == []
    assert reused_seeds(tmp_path / "missing", archs) == []


def test_transformer_presets_are_valid_with_three_seeds(data_dir: Path) -> None:
    from nas.supernet.trainer import SupernetSettings

    for pair in (("vit", "cifar10-subset"), ("charlm", "tinyshakespeare")):
        preset = PRESETS[pair]
        assert preset.standalone_seeds >= 3
        SupernetSettings.from_mapping(preset.supernet)
        create_task(pair[1], seed=0, data_dir=str(data_dir), **preset.task_params)
        space = create_space(pair[0], preset.space_choices)
        assert len(seeded_archs(space, 40, seed=0)) == 40  # issue 21's 40 archs exist


def test_the_printed_report_has_both_baselines_and_one_verdict_line() -> None:
    from nas.cli._bench_supernet import report_text

    result = RankingResult(kendall=0.6, spearman=0.7, n=40, supernet_seconds_per_arch=0.1,
                           standalone_seconds_per_arch=3.0, supernet_train_seconds=1.0, rows=[],
                           kendall_interval=(0.45, 0.7), params_kendall=0.40,
                           params_interval=(0.3, 0.5), flops_kendall=0.50,
                           flops_interval=(0.4, 0.6), standalone_seeds=3,
                           standalone_self_kendall=0.8, standalone_half_kendall=0.85)
    text = report_text("vit", "cifar10-subset", result, Path("out"))
    assert "parameter count alone: kendall=0.400 (95% interval 0.30 to 0.50)" in text
    assert "FLOPs alone:           kendall=0.500 (95% interval 0.40 to 0.60)" in text
    assert "seed 0 vs mean of seeds 1-2: kendall=0.850" in text
    verdicts = [line for line in text.splitlines() if line.startswith("verdict:")]
    assert verdicts == ["verdict: interval above params tau: yes; above FLOPs tau: no; "
                        "scoring 30x faster than training, at least 50x: no; "
                        "reference agrees with itself at tau >= 0.8: yes"]
    assert "disagrees with itself" not in text
    noisy = report_text("vit", "cifar10-subset", replace(result, standalone_half_kendall=0.11),
                        Path("out"))
    assert "reference agrees with itself at tau >= 0.8: no" in noisy
    assert "the reference disagrees with itself (below 0.8)" in noisy
    assert "few-shot" not in text
    split = report_text("gnn", "cora", replace(result, split_on=("batch_norm", "pre_layers")),
                        Path("out"))
    assert ("few-shot: one supernet per value of batch_norm, pre_layers, each trained from "
            "scratch") in split.splitlines()


def test_an_ensemble_of_supernets_scores_by_their_mean(tmp_path: Path, data_dir: Path) -> None:
    from nas.errors import ConfigError
    from nas.evaluators.supernet import SupernetEvaluator
    from nas.supernet.from_study import load_supernet

    single = rank_supernet("charlm", "tinyshakespeare", 3, tmp_path / "one", preset=TINY_CHARLM,
                           data_dir=data_dir)
    both = rank_supernet("charlm", "tinyshakespeare", 3, tmp_path / "two", preset=TINY_CHARLM,
                         data_dir=data_dir, supernet_seeds=[0, 1],
                         reuse_standalone=tmp_path / "one")
    space = create_space("charlm", TINY_CHARLM.space_choices)
    task = create_task("tinyshakespeare", seed=0, data_dir=str(data_dir),
                       **TINY_CHARLM.task_params)
    task.prepare("cpu")
    evaluator = SupernetEvaluator(space, task, {"bn_batches": 1, "hardware": False}, seed=0)
    archs = seeded_archs(space, 3, seed=0)
    members = []
    for seed in (0, 1):
        supernet = load_supernet(tmp_path / "two" / f"supernet-seed{seed}.pt", space, task)
        supernet.eval()
        members.append([-evaluator.score(supernet, arch)["val_bpc"] for arch in archs])
    # Seed 0's member is the single run's supernet; the ensemble's score is the members' mean.
    assert members[0] == pytest.approx([score for _, score, _ in single.rows])
    assert [score for _, score, _ in both.rows] == pytest.approx(
        [(a + b) / 2 for a, b in zip(*members)])
    assert len(both.member_kendalls) == 2
    assert both.member_kendalls[0] == pytest.approx(single.kendall, nan_ok=True)
    assert _summary(tmp_path / "two")["member_kendalls"].count(" ") == 1
    with pytest.raises(ConfigError, match="--supernet-seeds: give two or more distinct seeds"):
        rank_supernet("charlm", "tinyshakespeare", 3, tmp_path / "bad", preset=TINY_CHARLM,
                      data_dir=data_dir, supernet_seeds=[1, 1])


def test_few_shot_scores_each_architecture_by_its_own_groups_supernet(
        tmp_path: Path, data_dir: Path) -> None:
    from nas.errors import ConfigError
    from nas.evaluators.supernet import SupernetEvaluator
    from nas.supernet.from_study import load_supernet

    result = rank_supernet("charlm", "tinyshakespeare", 4, tmp_path, preset=TINY_CHARLM,
                           data_dir=data_dir, split_on=["num_layers"])
    archs = seeded_archs(create_space("charlm", TINY_CHARLM.space_choices), 4, seed=0)
    assert {a["num_layers"] for a in archs} == {1, 2}  # both groups are drawn
    task = create_task("tinyshakespeare", seed=0, data_dir=str(data_dir),
                       **TINY_CHARLM.task_params)
    task.prepare("cpu")
    evaluator = SupernetEvaluator(create_space("charlm", TINY_CHARLM.space_choices), task,
                                  {"bn_batches": 1, "hardware": False}, seed=0)
    expected = []
    for arch in archs:
        # each group's supernet knows only its own depth: the one-layer group has one block
        group = create_space("charlm", {**TINY_CHARLM.space_choices,
                                        "num_layers": [arch["num_layers"]]})
        supernet = load_supernet(tmp_path / f"supernet-num_layers={arch['num_layers']}.pt",
                                 group, task)
        supernet.eval()
        expected.append(-evaluator.score(supernet, arch)["val_bpc"])
    assert [score for _, score, _ in result.rows] == pytest.approx(expected)
    with pytest.raises(ConfigError, match="--split-on: 'depth' is not a choice of space "
                                          "'charlm'; choices: num_layers, model_dim"):
        rank_supernet("charlm", "tinyshakespeare", 4, tmp_path / "bad", preset=TINY_CHARLM,
                      data_dir=data_dir, split_on=["depth"])


def test_warm_started_groups_train_split_epochs_after_the_one_shot_supernet(
        tmp_path: Path, data_dir: Path) -> None:
    import torch

    from nas.errors import ConfigError

    rank_supernet("charlm", "tinyshakespeare", 4, tmp_path, preset=TINY_CHARLM,
                  data_dir=data_dir, split_on=["num_layers"], split_epochs=2)
    summary = _summary(tmp_path)
    assert (summary["split_on"], summary["split_epochs"]) == ("num_layers", "2")
    # the one-shot supernet trains first, the preset's 1 epoch; each group 2 more from it
    parent = torch.load(tmp_path / "supernet.pt", weights_only=True)
    assert parent["epoch"] == 1
    for layers in (1, 2):
        group = torch.load(tmp_path / f"supernet-num_layers={layers}.pt", weights_only=True)
        assert group["epoch"] == 2
        assert set(group["supernet"]) <= set(parent["supernet"])  # every tensor inheritable
    with pytest.raises(ConfigError, match=r"--split-epochs: must not be negative, and needs a "
                                          r"split \(--split-on\)"):
        rank_supernet("charlm", "tinyshakespeare", 4, tmp_path / "bad", preset=TINY_CHARLM,
                      data_dir=data_dir, split_epochs=2)


def test_a_presets_split_is_the_default_and_an_empty_split_is_one_shot(
        tmp_path: Path, data_dir: Path) -> None:
    from nas.cli._bench_supernet import _split_on

    splitting = replace(TINY_CHARLM, split_on=("num_layers",))
    rank_supernet("charlm", "tinyshakespeare", 4, tmp_path / "preset", preset=splitting,
                  data_dir=data_dir)
    assert sorted(p.name for p in (tmp_path / "preset").glob("*.pt")) == [
        "supernet-num_layers=1.pt", "supernet-num_layers=2.pt"]
    rank_supernet("charlm", "tinyshakespeare", 4, tmp_path / "one", preset=splitting,
                  data_dir=data_dir, split_on=())
    assert [p.name for p in (tmp_path / "one").glob("*.pt")] == ["supernet.pt"]
    # --split-on: not given keeps the preset's, 'none' asks for one supernet
    assert _split_on(None) is None and _split_on("none") == []
    assert _split_on("batch_norm, pre_layers") == ["batch_norm", "pre_layers"]
    assert PRESETS[("gnn", "cora")].split_on == ("batch_norm", "propagation_steps", "pre_layers")
