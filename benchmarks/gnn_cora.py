"""GNN architecture search on Cora: search, retrain the best architecture with 5 seeds, print test accuracy.

The search is the platform's own (``nas.search.run``: a study in a SQLite
file, ``n_jobs`` worker processes, the ``train`` evaluator) with one
objective, validation accuracy, on the Planetoid public split (140 training,
500 validation, 1,000 test nodes). Every trial trains with early stopping on
the validation loss (``select = "loss"``, the protocol of Shchur et al. 2018
and PyG's citation benchmarks) and reports the validation accuracy of that
epoch. The best trial (highest validation accuracy, ties broken by the lower
validation loss) is retrained with ``--seeds`` fresh seeds and its test
accuracy printed as mean ± std. Test accuracy never steers the search.

By default the ``gnn`` space is narrowed by study-file overrides to the region
a budget of 16 trials can cover (``NARROW`` below: one pre- and one post-layer,
0-1 message-passing layers of GCN/GAT/SAGE, optional APPNP propagation, no
batch norm or skips, and the optimiser ranges); ``--full-space`` searches
every choice of the space instead (needs many more trials).

Published figures on the same split: GCN 81.5 (Kipf & Welling 2017), GAT 83.0
(Veličković et al. 2018), APPNP 83.3 (Klicpera et al. 2019), Auto-GNN 83.6
(Zhou et al. 2019).

    python benchmarks/gnn_cora.py [--trials 16] [--epochs 300] [--patience 60]
        [--eval-every 2] [--n-jobs 2] [--seeds 5] [--sampler tpe] [--seed 0] [--full-space]
        [--storage sqlite:///gnn_cora.db] [--data-dir ../shared/data]
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

#: the narrowed space (study-file ``[space.choices]`` overrides)
NARROW = {
    "pre_layers": [1],
    "post_layers": [1],
    "mp_layers": [0, 1],
    "conv": ["gcn", "gat", "sage"],
    "hidden_dim": [64, 128],
    "heads": [1, 8],
    "activation": ["relu", "elu"],
    "dropout": [0.5, 0.6, 0.8],
    "batch_norm": [False],
    "skip": ["none"],
    "aggregation": ["mean"],
    "propagation_steps": [0, 10],
    "propagation_at": ["logits"],
    "propagation_alpha": [0.1],
    "input_dropout": [0.5, 0.6, 0.8],
    "edge_dropout": [0.0],
    "decay_on": ["all"],
    "lr": {"low": 0.005, "high": 0.02, "log": True},
    "weight_decay": {"low": 1e-4, "high": 2e-3, "log": True},
}


def study_file(args: argparse.Namespace) -> dict:
    """The study, as the TOML file would read once parsed."""
    space: dict = {"name": "gnn"}
    if not args.full_space:
        space["choices"] = NARROW
    return {
        "name": "gnn-cora-benchmark",
        "description": "Single-objective GNN search on Cora (benchmarks/gnn_cora.py)",
        "seed": args.seed,
        "n_jobs": args.n_jobs,
        "device": "cpu",
        "space": space,
        "task": {"name": "cora", **({"data_dir": args.data_dir} if args.data_dir else {})},
        "objectives": [{"metric": "val_accuracy", "direction": "maximize"}],
        "sampler": {"name": args.sampler},
        "evaluator": {"name": "train", "params": {
            "epochs": args.epochs, "patience": args.patience, "select": "loss",
            "eval_every": args.eval_every,
            "save_weights": False, "latency_repeats": 1,
        }},
        "budget": {"n_trials": args.trials},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16, help="completed search trials")
    parser.add_argument("--epochs", type=int, default=300, help="max epochs per training run")
    parser.add_argument("--patience", type=int, default=60,
                        help="epochs without a lower validation loss before stopping")
    parser.add_argument("--eval-every", type=int, default=2,
                        help="epochs between validation passes (best-epoch candidates)")
    parser.add_argument("--n-jobs", type=int, default=2, help="search worker processes")
    parser.add_argument("--seeds", type=int, default=5, help="retraining seeds of the best arch")
    parser.add_argument("--sampler", default="tpe")
    parser.add_argument("--seed", type=int, default=0, help="sampler and training seed")
    parser.add_argument("--full-space", action="store_true", help="search the unnarrowed space")
    parser.add_argument("--storage", default=None,
                        help="SQLAlchemy URL of the study (default: a fresh temporary SQLite file)")
    parser.add_argument("--data-dir", default=None, help="folder holding planetoid/Cora")
    args = parser.parse_args()

    import optuna
    import torch

    from nas.config import parse_study
    from nas.search import run
    from nas.search.study import load_study, storage_for
    from nas.search.worker import build_components

    torch.set_num_threads(1)  # small full-batch models: one thread per process is fastest
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tmp = tempfile.TemporaryDirectory()
    url = args.storage or f"sqlite:///{Path(tmp.name) / 'gnn_cora.db'}"
    config = parse_study(study_file(args)).with_overrides(storage=url)
    print(f"load average before: {os.getloadavg()[0]:.1f}; space: "
          f"{'full' if args.full_space else 'narrowed (see NARROW)'}; sampler {args.sampler}; "
          f"{args.trials} trials, <= {args.epochs} epochs (patience {args.patience}), "
          f"{args.n_jobs} workers", flush=True)

    start = time.perf_counter()
    result = run(config, progress=False)
    search_s = time.perf_counter() - start
    study = load_study(config.name, storage_for(url))
    done = [t for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.COMPLETE]
    ranked = sorted(done, key=lambda t: (-t.values[0], t.user_attrs["metrics"]["val_loss"]))
    print(f"search: {result.n_complete} complete, {result.n_failed} failed trials in {search_s:.0f} s")
    print("top 5 trials by validation accuracy (test accuracy shown, never used):")
    for t in ranked[:5]:
        metrics = t.user_attrs["metrics"]
        print(f"  #{t.number:<3d} val {metrics['val_accuracy']:.3f}  val loss "
              f"{metrics['val_loss']:.3f}  test {metrics['test_accuracy']:.3f}  {_short(t.params)}")

    best = ranked[0]
    space, _task, evaluator = build_components(config, "cpu")
    arch = space.validate(best.user_attrs["arch"])
    start = time.perf_counter()
    tests = []
    for seed in range(args.seeds):
        evaluator.seed = seed
        tests.append(100 * evaluator.evaluate(arch).metrics["test_accuracy"])
    retrain_s = time.perf_counter() - start
    mean = statistics.mean(tests)
    std = statistics.stdev(tests) if len(tests) > 1 else 0.0
    print(f"best trial #{best.number}: {dict(arch)}")
    print(f"retrained with seeds 0-{args.seeds - 1}: test accuracy per seed "
          f"{', '.join(f'{a:.1f}' for a in tests)} ({retrain_s:.0f} s)")
    print(f"load average after: {os.getloadavg()[0]:.1f}; total {search_s + retrain_s:.0f} s")
    print(f"Cora test accuracy of the searched architecture: {mean:.1f} ± {std:.1f} % over "
          f"{args.seeds} seeds (published: GCN 81.5, GAT 83.0, Auto-GNN 83.6)")


def _short(params: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())


if __name__ == "__main__":
    main()
