"""predictor-graph: predictor-guided evolution on zero-cost graph features, on the real table."""

from __future__ import annotations

import optuna

from nas.evaluators.tabular import lookup
from nas.samplers import create_sampler
from nas.tasks import create_task
from search_spaces import create_space


def test_reaches_the_top_of_the_table_without_repeating_an_equivalent_arch(data_dir):
    space = create_space("nb201", {})
    task = create_task("nb201-cifar10", data_dir=data_dir)
    task.prepare("cpu")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = create_sampler("predictor-graph", {}, seed=0, directions=["maximize"], space=space)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: lookup(task, space.sample(t)).metrics["val_accuracy"], n_trials=30)
    canonical = {space.canonical(space.validate(t.params)).key for t in study.trials}
    assert len(canonical) == 30
    # 0.9075 is the 100th best validation accuracy of the 15,625 (seed 0 reaches 0.9098);
    # 30 random queries land among the best 100 with a chance of about 1 in 6
    assert study.best_value >= 0.9075
