"""Predictor-guided evolution on the real NAS-Bench-201 table: no repeats, better than random,
a start-up design honoured, multi-objective fronts, and bad parameters named."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.evaluators.tabular import lookup
from nas.samplers import create_sampler
from nas.samplers.predictor_evolution import PREDICTORS, PredictorEvolutionSampler, fit_ensemble
from nas.tasks import create_task
from search_spaces import create_space
from search_spaces.nb201 import arch_from_string

GOOD = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
BAD = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture(scope="module")
def nb201(data_dir):
    task = create_task("nb201-cifar10", data_dir=data_dir)
    task.prepare("cpu")
    return create_space("nb201", {}), task


def search(nb201, sampler, n, multi=False):
    space, task = nb201
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        directions=["maximize", "minimize"] if multi else ["maximize"], sampler=sampler
    )

    def objective(trial):
        metrics = lookup(task, space.sample(trial)).metrics
        if multi:
            return metrics["val_accuracy"], metrics["edgegpu_latency"]
        return metrics["val_accuracy"]

    study.optimize(objective, n_trials=n)
    return study


def test_never_queries_an_architecture_twice_and_beats_random(nb201):
    space, _ = nb201
    wins = 0
    for seed in range(3):
        guided = search(nb201, PredictorEvolutionSampler(space, seed=seed), 35)
        keys = [tuple(sorted(t.params.items())) for t in guided.trials]
        assert len(set(keys)) == len(keys)
        plain = search(nb201, optuna.samplers.RandomSampler(seed=seed), 35)
        guided_tail = np.mean([t.value for t in guided.trials[10:]])
        plain_tail = np.mean([t.value for t in plain.trials[10:]])
        wins += guided_tail > plain_tail + 0.01  # one point of accuracy
    # The predictor's picks after the random start are clearly better on average.
    assert wins == 3


def test_after_the_start_each_proposal_is_a_neighbour_of_a_leading_trial(nb201):
    study = search(nb201, PredictorEvolutionSampler(nb201[0], local_search=True, seed=4), 30)
    trials = study.trials
    for child in trials[10:]:
        earlier = sorted(trials[: child.number], key=lambda t: -t.value)[:5]
        distances = [sum(child.params[n] != t.params[n] for n in child.params) for t in earlier]
        assert 1 in distances, f"trial {child.number} is no one-choice neighbour of a leader"


def test_one_objective_skips_equivalent_archs_and_reaches_the_table_top(nb201):
    space, task = nb201
    valid = task.table.columns[task.valid_column] / 100  # the table's %, the store's fraction
    top = np.quantile(valid, 0.995)  # 79 of 15,625 architectures
    for seed in range(2):
        study = search(nb201, PredictorEvolutionSampler(space, seed=seed), 60)
        forms = [tuple(space.canonical(Architecture(t.params)).items()) for t in study.trials]
        assert len(set(forms)) == len(forms)
        # Random search gets this far in 60 queries one time in four.
        assert study.best_value >= top


def test_initial_design_comes_first_in_order(nb201):
    space, _ = nb201
    design = [dict(arch_from_string(GOOD)), dict(arch_from_string(BAD))]
    study = search(nb201, PredictorEvolutionSampler(space, initial_design=design, seed=0), 4)
    assert [t.params for t in study.trials[:2]] == design
    assert study.trials[2].params not in design


def test_multi_objective_proposals_are_new_and_favour_the_front(nb201):
    space, _ = nb201
    study = search(nb201, PredictorEvolutionSampler(space, seed=1, pool_size=200), 16, multi=True)
    keys = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(keys)) == len(keys)
    # Most guided picks (after 10 random trials) extend the front: no earlier trial dominates them.
    values = np.array([t.values for t in study.trials]) * np.array([-1.0, 1.0])
    new_front = [
        not np.any(np.all(values[:i] <= values[i], axis=1)) for i in range(10, len(values))
    ]
    assert np.mean(new_front) >= 0.5


@pytest.mark.parametrize("kind", PREDICTORS)
def test_every_predictor_ranks_the_table(kind, nb201):
    space, task = nb201
    rng = np.random.default_rng(0)
    archs = [space.validate({n: str(v) for n, v in zip(space.choices(), row)})
             for row in rng.choice(["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                    "avg_pool_3x3"], size=(160, 6))]
    x = np.stack([space.encode(a) for a in archs]).astype(float)
    if kind == "ard":  # a GP on the choices themselves: one op code per edge
        ops = list(space.choices()["edge_0"].values)
        x = np.array([[ops.index(a[n]) for n in sorted(a)] for a in archs], dtype=float)
    y = np.array([lookup(task, a).metrics["val_accuracy"] for a in archs])
    model = fit_ensemble(kind, x[:120], y[:120], 3, rng)
    mean, spread = model.predict(x[120:])
    assert spread.shape == mean.shape and np.all(spread >= 0)
    from scipy.stats import spearmanr

    assert spearmanr(mean, y[120:]).statistic > 0.5


def test_bad_parameters_are_named():
    with pytest.raises(ConfigError, match="sampler.params.colour"):
        create_sampler("predictor-evolution", {"colour": 1}, seed=0, directions=["maximize"])
    with pytest.raises(ConfigError, match="predictor must be one of"):
        create_sampler("predictor-evolution", {"predictor": "mlp"}, seed=0, directions=["maximize"])
