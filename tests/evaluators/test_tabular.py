"""The tabular evaluator: exact NAS-Bench-201 figures by lookup, and a real CLI search."""

import time

import optuna
import pytest

from nas.errors import ConfigError
from nas.evaluators import EVALUATORS
from nas.tasks import create_task
from search_spaces import create_space
from search_spaces.nb201 import arch_from_string

BEST_CIFAR100 = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)


def evaluator(task_name: str, data_dir, space: str = "nb201"):
    task = create_task(task_name, data_dir=data_dir)
    task.prepare()
    ev = EVALUATORS.get("tabular")(create_space(space), task)
    return ev


def test_known_accuracies_from_the_readme(data_dir):
    arch = arch_from_string(BEST_CIFAR100)
    cifar10 = evaluator("nb201-cifar10", data_dir)
    cifar10.setup()
    result = cifar10.evaluate(arch)
    assert result.fidelity == "tabular"
    # The README's 94.3633 %, stored as a fraction like every accuracy.
    assert result.metrics["test_accuracy"] == pytest.approx(0.943633)
    assert result.attrs["nb201_index"] == 9930
    assert result.attrs["val_accuracy_source"] == "cifar10_valid"
    assert 0.8 < result.metrics["val_accuracy"] < result.metrics["test_accuracy"] < 1
    assert result.metrics["params"] == 1_531_546 - _skip_savings()
    assert result.metrics["edgegpu_latency"] > 0
    cifar100 = evaluator("nb201-cifar100", data_dir).evaluate(arch)
    assert cifar100.metrics["test_accuracy"] == pytest.approx(0.735133)
    # no validation column for CIFAR-100: the evaluator says it used test
    assert cifar100.metrics["val_accuracy"] == cifar100.metrics["test_accuracy"]
    assert "cifar100_test" in cifar100.attrs["val_accuracy_source"]
    assert "edgegpu_latency" not in cifar100.metrics


def _skip_savings() -> int:
    # one skip_connect instead of nor_conv_3x3 on edge_3: 5 cells x (9C^2 + 2C) for C = 16, 32, 64
    return sum(5 * (9 * c * c + 2 * c) for c in (16, 32, 64))


def test_best_imagenet16_arch_and_lookups_take_microseconds(data_dir):
    ev = evaluator("nb201-imagenet16", data_dir)
    ev.setup()
    table = ev.task.table
    assert table.value(table.arch[857], "imagenet16_test") == pytest.approx(47.3111)
    archs = create_space("nb201").enumerate(2000)
    start = time.perf_counter()
    for arch in archs:
        ev.evaluate(arch)
    assert (time.perf_counter() - start) / len(archs) < 1e-3  # ~20 us here; generous bound


def test_refuses_other_spaces(data_dir):
    with pytest.raises(ConfigError, match="needs space 'nb201'"):
        evaluator("nb201-cifar10", data_dir, space="gnn").setup()


def test_nas_search_of_the_study_file(tmp_path, nas_cli):
    url = f"sqlite:///{tmp_path / 'nb201.db'}"
    result = nas_cli("search", "studies/nb201_tabular.toml", "--storage", url, "--n-trials", "20")
    assert result.returncode == 0, result.stderr[-2000:]
    study = optuna.load_study(study_name="nb201-tabular", storage=url)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 20
    for t in done:
        assert t.user_attrs["fidelity"] == "tabular"
        arch = arch_from_string(t.user_attrs["nb201_arch"])
        assert dict(arch) == t.params
        assert t.value == t.user_attrs["metrics"]["val_accuracy"]
