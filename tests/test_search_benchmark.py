"""The NAS-Bench-201 search benchmark refuses bad arguments before it searches or writes."""

import pytest

from nas.bench.search import run_search_benchmark
from nas.errors import ConfigError


@pytest.mark.parametrize("dataset, objectives, message", [
    ("cifar1000", "accuracy",
     "--dataset: unknown 'cifar1000'; allowed: cifar10, cifar100, imagenet16"),
    ("cifar10", "size", "--objectives: unknown 'size'; allowed: accuracy, latency"),
    ("imagenet16", "latency",
     "--objectives: latency needs --dataset cifar10 (HW-NAS-Bench latencies exist for cifar10 "
     "only), got 'imagenet16'"),
])
def test_a_bad_dataset_or_objective_is_a_one_line_config_error(tmp_path, data_dir, dataset,
                                                               objectives, message):
    out = tmp_path / "bench"
    with pytest.raises(ConfigError) as caught:
        run_search_benchmark(dataset, None, [5], seeds=1, objectives=objectives, out=out,
                             data_dir=data_dir)
    assert str(caught.value) == message
    assert not out.exists()


def test_an_unknown_sampler_is_named_with_the_close_match(tmp_path, data_dir):
    with pytest.raises(ConfigError) as caught:
        run_search_benchmark("cifar10", ["random", "tpee"], [5], seeds=1, out=tmp_path / "bench",
                             data_dir=data_dir)
    message = str(caught.value)
    assert message.startswith("--sampler: unknown sampler 'tpee' (did you mean 'tpe'?); known: ")
    assert "random" in message and "\n" not in message
    assert not (tmp_path / "bench").exists()
