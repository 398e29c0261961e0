"""Searched against hand-designed GNNs: one study file, the same evaluator, recipe and seeds.

Runs the study file's search as it is (its space, sampler, evaluator, pruner
and budget; a fresh temporary SQLite store), retrains the best trial (highest
validation accuracy, ties broken by the lower validation loss) with seeds
``0 .. --seeds-1``, then trains each of the space's hand-designed baselines
(``[space] baseline = "gcn"`` etc., :attr:`GNNSpace.baselines`) with the very
same evaluator and seeds. Prints every seed's test accuracy, mean ± std, and
the search cost (wall time, trials by state, fidelity) beside it. Test
accuracy never steers the search or the choice of the best trial.

    python benchmarks/gnn_vs_baselines.py studies/gnn_cora.toml [--task citeseer]
        [--seeds 5] [--n-trials N] [--baselines gcn,gat,appnp] [--data-dir ../shared/data]
        [--arch JSON --baselines ''] [--evaluator-params '{"epochs": 1000, "patience": 100}']
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", help="study file (TOML)")
    parser.add_argument("--task", default=None, help="run the same study on another task")
    parser.add_argument("--seeds", type=int, default=5, help="retraining seeds (0..N-1)")
    parser.add_argument("--n-trials", type=int, default=None, help="override the study's budget")
    parser.add_argument("--baselines", default="gcn,gat,appnp", help="comma-separated presets")
    parser.add_argument("--data-dir", default=None, help="folder holding planetoid/")
    parser.add_argument("--skip-search", action="store_true", help="baselines only")
    parser.add_argument("--arch", default=None,
                        help="JSON architecture to retrain instead of searching (e.g. a best trial's)")
    parser.add_argument("--evaluator-params", default=None,
                        help='JSON merged into [evaluator] params, e.g. \'{"epochs": 1000}\'')
    args = parser.parse_args()

    import optuna
    import torch

    from nas.config import Component, FrozenDict, load_study_file
    from nas.search import run
    from nas.search.study import load_study, storage_for
    from nas.search.worker import build_components

    torch.set_num_threads(1)  # small full-batch models: one thread per process is fastest
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = load_study_file(args.study)
    if args.task:
        config = config.with_overrides(study_name=f"{config.name}-{args.task}")
        # The raw file too: worker processes rebuild the study from it.
        raw = dict(config.raw, task=dict(config.raw["task"], name=args.task))
        config = _replace(config, task=Component(args.task, config.task.params),
                          raw=FrozenDict(raw))
    if args.evaluator_params:
        import json

        params = {**config.evaluator.params, **json.loads(args.evaluator_params)}
        raw = dict(config.raw, evaluator=dict(config.raw["evaluator"], params=params))
        config = _replace(config, evaluator=Component(config.evaluator.name, FrozenDict(params)),
                          raw=FrozenDict(raw))
    tmp = tempfile.TemporaryDirectory()
    url = f"sqlite:///{Path(tmp.name) / 'study.db'}"
    config = config.with_overrides(storage=url, n_trials=args.n_trials, data_dir=args.data_dir,
                                   device="cpu")
    ev = config.evaluator.params
    fidelity = (f"{config.evaluator.name}: <= {ev.get('epochs', 200)} epochs, patience "
                f"{ev.get('patience', 30)}, select {ev.get('select', 'metric')}")
    print(f"study {args.study} on {config.task.name}; sampler {config.sampler.name}; "
          f"pruner {config.pruner.name}; {config.budget.n_trials} trials, {config.n_jobs} "
          f"workers; fidelity {fidelity}; load average {os.getloadavg()[0]:.1f}", flush=True)
    seeds = list(range(args.seeds))
    rows = []
    if args.arch:
        import json

        space, _task, evaluator = build_components(config, "cpu")
        rows.append(("given", _retrain(evaluator, space.validate(json.loads(args.arch)), seeds),
                     "architecture given with --arch"))
    elif not args.skip_search:
        start = time.perf_counter()
        run(config, progress=False)
        search_s = time.perf_counter() - start
        study = load_study(config.name, storage_for(url))
        trials = study.get_trials(deepcopy=False)
        states = {s.name.lower(): sum(t.state == s for t in trials) for s in optuna.trial.TrialState}
        done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        best = sorted(done, key=lambda t: (-t.values[0], t.user_attrs["metrics"]["val_loss"]))[0]
        space, _task, evaluator = build_components(config, "cpu")
        arch = space.validate(best.user_attrs["arch"])
        print(f"search: {search_s:.0f} s wall, trials "
              + ", ".join(f"{n} {k}" for k, n in states.items() if n)
              + f"; best #{best.number} val {best.values[0]:.3f}: {dict(arch)}", flush=True)
        rows.append(("searched", _retrain(evaluator, arch, seeds),
                     f"search {search_s:.0f} s, {len(trials)} trials ({states['complete']} "
                     f"complete, {states['pruned']} pruned, {states['fail']} failed)"))
    for name in [b for b in args.baselines.split(",") if b]:
        params = dict(config.space.params, baseline=name)
        preset = _replace(config, space=Component(config.space.name, FrozenDict(params)))
        space, _task, evaluator = build_components(preset, "cpu")
        print(f"baseline {name}: {dict(space.default())}", flush=True)
        rows.append((name, _retrain(evaluator, space.default(), seeds), "hand-designed"))
    print(f"\n{config.task.name} test accuracy, seeds {seeds[0]}-{seeds[-1]}, same evaluator "
          f"and recipe ({fidelity}):")
    for name, (tests, seconds), cost in rows:
        std = statistics.stdev(tests) if len(tests) > 1 else 0.0
        print(f"  {name:<9} {statistics.mean(tests):5.1f} ± {std:.1f}  "
              f"[{', '.join(f'{a:.1f}' for a in tests)}]  retrain {seconds:.0f} s; {cost}")


def _retrain(evaluator, arch, seeds: list[int]) -> tuple[list[float], float]:
    # One run per seed: ``repeats`` applies to search trials only (nas.evaluators.train).
    start = time.perf_counter()
    tests = []
    for seed in seeds:
        evaluator.seed = seed
        tests.append(100 * evaluator.evaluate(arch).metrics["test_accuracy"])
        print(f"  seed {seed}: test accuracy {tests[-1]:.1f}", flush=True)
    return tests, time.perf_counter() - start


def _replace(config, **changes):
    from dataclasses import replace

    return replace(config, **changes)


if __name__ == "__main__":
    main()
