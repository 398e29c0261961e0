"""The proxy evaluator: zero-cost scores as objectives, cached in ``nas_proxy_cache``."""

from __future__ import annotations

import optuna
import pytest
import sqlalchemy as sa
import torch

from nas.errors import ConfigError, UnknownNameError
from nas.evaluators import EVALUATORS
from nas.store import open_storage, read_engine
from nas.tasks import create_task
from search_spaces import create_space

SMALL_GNN = {"hidden_dim": [16, 32], "mp_layers": [1, 2], "propagation_steps": [0]}


@pytest.fixture(scope="module")
def graph_task(data_dir):
    task = create_task("synthetic-graph", data_dir=data_dir, num_nodes=80, num_features=8)
    task.prepare("cpu")
    return task


def make(graph_task, **params):
    torch.set_num_threads(1)
    return EVALUATORS.get("proxy")(create_space("gnn", SMALL_GNN), graph_task, params)


def test_a_second_evaluation_reads_the_cache_and_does_not_recompute(graph_task, sqlite_url, monkeypatch):
    space = create_space("gnn", SMALL_GNN)
    arch = space.largest()
    first = make(graph_task, proxies="snip", cache=sqlite_url).evaluate(arch)
    assert first.fidelity == "proxy" and first.attrs["proxy_cached"] is False
    assert first.metrics["proxy_score"] > 0

    def no_scoring(*args, **kwargs):
        raise AssertionError("score() was called although the cache holds the score")

    monkeypatch.setattr("proxies._score.score", no_scoring)
    again = make(graph_task, proxies="snip", cache=sqlite_url)  # a fresh worker, same storage
    second = again.evaluate(arch)
    assert second.attrs["proxy_cached"] is True and again.computed == 0
    assert second.metrics["proxy_score"] == first.metrics["proxy_score"]
    with read_engine(sqlite_url).connect() as conn:
        rows = conn.execute(sa.text("SELECT arch_key, proxy, task, batch_seed, score FROM nas_proxy_cache")).all()
    assert rows == [(arch.key, "snip", "synthetic-graph", 0, first.metrics["proxy_score"])]


def test_another_batch_seed_is_another_cache_entry(graph_task, sqlite_url):
    arch = create_space("gnn", SMALL_GNN).largest()
    a = make(graph_task, proxies="snip", cache=sqlite_url, batch_seed=0).evaluate(arch)
    b = make(graph_task, proxies="snip", cache=sqlite_url, batch_seed=1).evaluate(arch)
    assert b.attrs["proxy_cached"] is False
    assert a.metrics["proxy_score"] != b.metrics["proxy_score"]


def test_a_trial_uses_its_studys_storage_as_the_cache(graph_task, sqlite_url):
    storage = open_storage(sqlite_url)
    study = optuna.create_study(study_name="proxies", storage=storage)
    space = create_space("gnn", SMALL_GNN)
    evaluator = make(graph_task, proxies="synflow")
    trial = study.ask()
    arch = space.sample(trial)
    value = evaluator.evaluate(arch, trial).metrics["proxy_score"]
    with read_engine(sqlite_url).connect() as conn:
        stored = conn.execute(sa.text("SELECT score FROM nas_proxy_cache WHERE proxy = 'synflow'")).scalar()
    assert stored == value


def test_an_ensemble_ranks_against_every_architecture_scored_so_far(graph_task):
    space = create_space("gnn", SMALL_GNN)
    evaluator = make(graph_task, proxies=["params", "l2_norm"], ensemble="rank_average", cache="none")
    small = space.smallest()
    large = space.largest()
    assert evaluator.evaluate(small).metrics["proxy_score"] == 0.0  # alone: rank 0 of 1
    assert evaluator.evaluate(large).metrics["proxy_score"] == 1.0  # more params, larger norms
    assert evaluator.evaluate(small).metrics["proxy_score"] == 0.0
    assert evaluator.computed == 4  # two proxies for each of two architectures; the rest was cached
    vote = make(graph_task, proxies=["params", "l2_norm", "synflow"], ensemble="majority_vote", cache="none")
    vote.evaluate(small)
    assert vote.evaluate(large).metrics["proxy_score"] == 1.0


def test_a_named_ensemble_brings_its_rule_and_proxies(graph_task, monkeypatch):
    from proxies.ensembles import NAMED_ENSEMBLES, NamedEnsemble

    monkeypatch.setitem(NAMED_ENSEMBLES, "size", NamedEnsemble("log_rank_sum", ("params", "l2_norm"), "test"))
    space = create_space("gnn", SMALL_GNN)
    evaluator = make(graph_task, ensemble="size", cache="none")
    assert evaluator.proxies == ["params", "l2_norm"] and evaluator.rule == "log_rank_sum"
    evaluator.evaluate(space.smallest())
    large = evaluator.evaluate(space.largest())
    assert large.metrics["proxy_score"] == 1.0 and large.attrs["ensemble"] == "size"
    assert make(graph_task, ensemble="size", proxies=["params", "l2_norm"], cache="none").rule == "log_rank_sum"
    with pytest.raises(ConfigError, match="ensemble 'size' is params\\+l2_norm"):
        make(graph_task, ensemble="size", proxies=["snip"])


def test_bad_parameters_get_one_line_errors(graph_task):
    with pytest.raises(ConfigError, match="evaluator.params.ensemble: several proxies"):
        make(graph_task, proxies=["snip", "nwot"])
    with pytest.raises(ConfigError, match="evaluator.params.ensemble: 'mean' is not one of"):
        make(graph_task, proxies=["snip", "nwot"], ensemble="mean")
    with pytest.raises(ConfigError, match="evaluator.params.epochs: unknown parameter for 'proxy'"):
        make(graph_task, epochs=3)
    with pytest.raises(ConfigError, match="evaluator.params.batch_size"):
        make(graph_task, batch_size=0)
    with pytest.raises(UnknownNameError, match="unknown proxy 'snipp'.*known: .*synflow"):
        make(graph_task, proxies="snipp").setup()
