"""Zero-cost warm start: the proxy's top-k are queried first, proxy time is reported and cached."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from nas.evaluators.tabular import lookup
from nas.samplers import create_sampler
from nas.samplers.warm_start import random_pool, rank_by_proxies, rank_scores
from nas.store import ProxyScoreCache, write_engine
from nas.tasks import create_task
from search_spaces import create_space


def test_rank_scores_averages_ranks_and_puts_missing_last():
    table = np.array([[1.0, 10.0], [3.0, np.nan], [2.0, 30.0]])
    scores = rank_scores(table)
    assert np.argmax(scores) == 2 and scores[1] < scores[2]
    assert rank_scores(np.array([[np.nan], [0.0]])).tolist() == [0.0, 1.0]


def test_top_k_by_proxy_come_first_and_the_cache_is_reused(data_dir, tmp_path):
    space = create_space("nb201", {})
    task = create_task("nb201-cifar10", data_dir=data_dir)
    task.prepare("cpu")
    pool = random_pool(space, 6, seed=2)
    cache = f"sqlite:///{tmp_path / 'scores.db'}"
    start = rank_by_proxies(space, task, ["params"], pool, cache=ProxyScoreCache(write_engine(cache)))
    assert start.seconds > 0
    params = [lookup(task, a).metrics["params"] for a in start.archs]
    assert params == sorted(params, reverse=True)  # the "params" proxy ranks by size
    again = rank_by_proxies(space, task, ["params"], pool, cache=ProxyScoreCache(write_engine(cache)))
    assert again.archs == start.archs and again.seconds == pytest.approx(start.seconds, abs=1e-5)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = create_sampler(
        "zc-warmstart", {"proxies": ["params"], "pool_size": 6, "top_k": 3, "cache": cache},
        seed=2, directions=["maximize"], space=space, task=task,
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: lookup(task, space.sample(t)).metrics["val_accuracy"], n_trials=4)
    assert [t.params for t in study.trials[:3]] == [dict(a) for a in start.archs[:3]]


def test_the_warm_start_and_the_proxy_evaluator_share_one_cache(data_dir, tmp_path):
    # One proxy score cache: what the warm start scored, the proxy evaluator reads (same
    # architecture, proxy, task and seed), and it is the score the evaluator would compute.
    from nas.evaluators import EVALUATORS

    space = create_space("nb201", {})
    task = create_task("nb201-cifar10", data_dir=data_dir)
    task.prepare("cpu")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    start = rank_by_proxies(space, task, ["nwot"], random_pool(space, 2, seed=4), seed=1,
                            cache=ProxyScoreCache(write_engine(url)))
    cached = EVALUATORS.get("proxy")(space, task, {"proxies": "nwot", "batch_seed": 1, "cache": url})
    result = cached.evaluate(start.archs[0])
    assert result.attrs["proxy_cached"] is True and cached.computed == 0
    fresh = EVALUATORS.get("proxy")(space, task, {"proxies": "nwot", "batch_seed": 1, "cache": "none"})
    assert fresh.evaluate(start.archs[0]).metrics == result.metrics and fresh.computed == 1
