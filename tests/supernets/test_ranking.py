"""``nas bench supernet``'s ranking: the standalone reference from several seeds, the free baseline."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from nas.bench.supernet_ranking import Preset, kendall_interval, rank_supernet, seeded_archs

TINY = Preset(
    space_choices={"hidden_dim": [16], "heads": [1], "mp_layers": [1], "propagation_steps": [0],
                   "lr": 0.01, "weight_decay": 0.0005, "dropout": 0.5},
    task_params={"num_nodes": 200, "num_features": 8},
    supernet={"epochs": 2, "sampling": "fair"},
    standalone_epochs=2, standalone_patience=2, standalone_seeds=2, bn_batches=1,
)


def test_the_reference_is_the_mean_of_the_seeds_and_its_self_agreement_is_written(
    tmp_path: Path, data_dir: Path
) -> None:
    result = rank_supernet("gnn", "synthetic-graph", 4, tmp_path, preset=TINY, data_dir=data_dir)
    with open(tmp_path / "standalone.csv", newline="") as handle:
        seeds = {row["arch_key"]: (float(row["seed0"]), float(row["seed1"]))
                 for row in csv.DictReader(handle)}
    assert len(seeds) == result.n
    for key, _, standalone in result.rows:
        assert standalone == sum(seeds[key]) / 2
    with open(tmp_path / "summary.csv", newline="") as handle:
        summary = next(csv.DictReader(handle))
    assert -1 <= float(summary["standalone_self_kendall"]) <= 1
    assert int(summary["n"]) == result.n
    # The free baseline: the same archs ranked by parameter count against the same reference.
    from scipy.stats import kendalltau

    from nas.metrics import count_params
    from nas.tasks import create_task
    from search_spaces import create_space

    space = create_space("gnn", TINY.space_choices)
    spec = create_task("synthetic-graph", seed=0, data_dir=str(data_dir),
                       **TINY.task_params).prepare("cpu")
    archs = seeded_archs(space, 4, seed=0)
    assert [a.key for a in archs] == [key for key, _, _ in result.rows]
    expected = kendalltau([count_params(space.build(a, spec)) for a in archs],
                          [standalone for _, _, standalone in result.rows]).statistic
    assert float(summary["params_kendall"]) == pytest.approx(expected, abs=1e-4, nan_ok=True)
    low, high = (float(summary["kendall_ci_low"]), float(summary["kendall_ci_high"]))
    assert (low, high) == pytest.approx(result.kendall_interval, abs=1e-4, nan_ok=True)
    # Scored by validation loss instead: the saved supernet's losses, lower is better.
    from nas.evaluators.supernet import SupernetEvaluator
    from nas.supernet.from_study import load_supernet

    task = create_task("synthetic-graph", seed=0, data_dir=str(data_dir), **TINY.task_params)
    task.prepare("cpu")
    supernet = load_supernet(tmp_path / "supernet.pt", space, task)
    evaluator = SupernetEvaluator(space, task, {"bn_batches": TINY.bn_batches, "hardware": False},
                                  seed=0)
    supernet.eval()
    scored = [evaluator.score(supernet, arch) for arch in archs]
    assert [values["val_accuracy"] for values in scored] == pytest.approx(
        [score for _, score, _ in result.rows])
    expected_loss = kendalltau([-values["val_loss"] for values in scored],
                               [standalone for _, _, standalone in result.rows]).statistic
    assert float(summary["loss_kendall"]) == pytest.approx(expected_loss, abs=1e-4, nan_ok=True)


def test_the_kendall_interval_is_the_percentiles_of_tau_over_resampled_archs() -> None:
    import numpy as np
    from scipy.stats import kendalltau

    rng = np.random.default_rng(3)
    truth = rng.normal(size=40)
    scores = truth + rng.normal(scale=0.8, size=40)
    scores[:4] = scores[4]  # ties, as rounded accuracies have
    low, high = kendall_interval(list(scores), list(truth), seed=7, resamples=300)
    # The same resamples through scipy, one by one.
    draws = np.random.default_rng(7)
    taus = []
    for _ in range(300):
        pick = draws.integers(0, 40, 40)
        taus.append(kendalltau(scores[pick], truth[pick]).statistic)
    assert (low, high) == pytest.approx(tuple(np.percentile(taus, [2.5, 97.5])), abs=1e-9)
    assert low < kendalltau(scores, truth).statistic < high
    assert kendall_interval(list(truth), list(truth)) == (1.0, 1.0)
