"""Search efficiency on NAS-Bench-201: seeded searches per sampler, tabular queries, regret curves.

Each (sampler, seed) runs one in-memory Optuna study on the ``nb201`` space;
a query is one look-up in the NAS-Bench-201 table through the ``tabular``
evaluator's :func:`~nas.evaluators.tabular.lookup`. After ``q`` queries the
search "returns" the architecture with the best validation accuracy among
those queried (``cifar10_valid``; CIFAR-100 and ImageNet16-120 have no
validation column in the table, so there the selection uses test accuracy,
as the tabular evaluator documents) and we report its test accuracy. A search
is sequential, so the figure at 50 queries is the 200-query run's first 50.

With ``--objectives latency`` the study is two-objective (validation accuracy
up, HW-NAS-Bench ``edgegpu_latency`` down, CIFAR-10 only) and the figure is
the hypervolume of the queried set, both objectives scaled to [0, 1] by their
range over the whole table (reference point = worst accuracy, worst latency).

Writes ``OUT/results.csv`` (``sampler,seed,queries,best_test_acc`` or
``...,hypervolume``), ``OUT/regret.png`` (mean and 95% band per sampler) and
``OUT/table.md``, and prints the table. Proxy compute time of ``zc-warmstart``
is reported separately (it is not a query).

    python benchmarks/nb201_search.py --dataset cifar10 --sampler all \\
        --queries 50,100,200 --seeds 30 --out bench_out/nb201_search [--jobs 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ALL_SAMPLERS = ("random", "tpe", "evolution", "predictor-evolution", "zc-warmstart", "gp")
MULTI_SAMPLERS = ("random", "nsga2", "evolution", "predictor-evolution")
TASKS = {"cifar10": "nb201-cifar10", "cifar100": "nb201-cifar100", "imagenet16": "nb201-imagenet16"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(TASKS), default="cifar10")
    parser.add_argument("--sampler", default="all",
                        help=f"comma list, or 'all' ({', '.join(ALL_SAMPLERS)})")
    parser.add_argument("--queries", default="50,100,200", help="comma list of query counts")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--objectives", choices=("accuracy", "latency"), default="accuracy")
    parser.add_argument("--params", default="{}",
                        help='JSON: sampler -> params, e.g. {"tpe": {"n_startup_trials": 20}}')
    parser.add_argument("--jobs", type=int, default=1, help="processes")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--zc-proxies", default="nwot", help="proxies of zc-warmstart (comma list)")
    parser.add_argument("--zc-pool", type=int, default=50, help="pool scored per seed by zc-warmstart")
    parser.add_argument("--out", default="bench_out/nb201_search")
    args = parser.parse_args(argv)

    multi = args.objectives == "latency"
    if multi and args.dataset != "cifar10":
        parser.error("--objectives latency: HW-NAS-Bench latencies exist for cifar10 only")
    names = list(MULTI_SAMPLERS if multi else ALL_SAMPLERS) if args.sampler == "all" \
        else [s.strip() for s in args.sampler.split(",") if s.strip()]
    queries = sorted({int(q) for q in args.queries.split(",")})
    params = json.loads(args.params)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        dict(sampler=s, seed=seed, dataset=args.dataset, n_queries=queries[-1], multi=multi,
             params=params.get(s, {}), data_dir=args.data_dir,
             zc_proxies=args.zc_proxies.split(","), zc_pool=args.zc_pool,
             zc_cache=str(out / "proxy_scores.csv"))
        for s in names for seed in range(args.first_seed, args.first_seed + args.seeds)
    ]
    started = time.time()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(run_search, jobs))
    else:
        runs = [run_search(j) for j in jobs]
    figure = "hypervolume" if multi else "best_test_acc"
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sampler", "seed", "queries", figure])
        for run in runs:
            for q in queries:
                writer.writerow([run["sampler"], run["seed"], q, f"{run['curve'][q - 1]:.6f}"])
    table = markdown_table(runs, queries, figure, args)
    (out / "table.md").write_text(table, encoding="utf-8")
    plot_curves(runs, figure, out / "regret.png", args.dataset, multi, args.data_dir)
    print(table)
    print(f"wall time {time.time() - started:.0f} s; files in {out}/")


def run_search(job: dict[str, Any]) -> dict[str, Any]:
    """One seeded search; ``curve[i]`` is the figure after ``i + 1`` queries."""
    import optuna

    from nas.evaluators.tabular import lookup
    from nas.samplers import create_sampler
    from nas.tasks import create_task
    from search_spaces import create_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    space = create_space("nb201", {})
    task = create_task(TASKS[job["dataset"]], data_dir=job["data_dir"])
    task.prepare("cpu")
    directions = ["maximize", "minimize"] if job["multi"] else ["maximize"]
    params = dict(job["params"])
    proxy_seconds = 0.0
    if job["sampler"] == "zc-warmstart":
        params.setdefault("proxies", job["zc_proxies"])
        params.setdefault("pool_size", job["zc_pool"])
        params.setdefault("cache", job["zc_cache"])
    started = time.perf_counter()
    sampler = create_sampler(job["sampler"], params, seed=job["seed"], directions=directions,
                             space=space, task=task)
    if job["sampler"] == "zc-warmstart":
        proxy_seconds = getattr(sampler, "proxy_seconds", time.perf_counter() - started)
    study = optuna.create_study(directions=directions, sampler=sampler)
    records: list[tuple[float, float, float]] = []  # (val, test, latency)

    def objective(trial: optuna.Trial) -> Any:
        metrics = lookup(task, space.sample(trial)).metrics
        latency = metrics.get("edgegpu_latency", math.nan)
        records.append((metrics["val_accuracy"], metrics["test_accuracy"], latency))
        return (metrics["val_accuracy"], latency) if job["multi"] else metrics["val_accuracy"]

    study.optimize(objective, n_trials=job["n_queries"])
    search_seconds = time.perf_counter() - started - proxy_seconds
    values = np.array(records)
    if job["multi"]:
        curve = hypervolume_curve(values[:, [0, 2]], task)
    else:
        best = np.maximum.accumulate(values[:, 0])
        # Test accuracy of the first arch reaching the best validation accuracy so far.
        chosen = [int(np.flatnonzero(values[: i + 1, 0] == best[i])[0]) for i in range(len(values))]
        curve = values[chosen, 1]
    return dict(sampler=job["sampler"], seed=job["seed"], curve=curve.tolist(),
                proxy_seconds=proxy_seconds, search_seconds=search_seconds)


def hypervolume_curve(points: np.ndarray, task: Any) -> np.ndarray:
    """Hypervolume after each query, (val accuracy, latency) scaled by their ranges in the table."""
    from nas.hypervolume import hypervolume

    table = task.table.columns
    accuracy, latency = table[task.valid_column], table["edgegpu_latency"]
    losses = np.stack([
        (accuracy.max() - points[:, 0]) / (accuracy.max() - accuracy.min()),
        (points[:, 1] - latency.min()) / (latency.max() - latency.min()),
    ], axis=1)
    reference = np.array([1.0, 1.0])
    return np.array([hypervolume(losses[: i + 1], reference) for i in range(len(losses))])


def confidence(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of its 95% confidence interval (Student t)."""
    from scipy import stats

    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, math.nan
    return mean, float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n))


def markdown_table(runs: list[dict[str, Any]], queries: list[int], figure: str, args: Any) -> str:
    samplers = list(dict.fromkeys(r["sampler"] for r in runs))
    stats = {
        (s, q): confidence(np.array([r["curve"][q - 1] for r in runs if r["sampler"] == s]))
        for s in samplers for q in queries
    }
    baselines = [s for s in ("random", "evolution", "tpe", "nsga2") if s in samplers]
    head = "| sampler | " + " | ".join(f"{q} queries" for q in queries) + \
        " | search s/seed | proxy s/seed |"
    lines = [
        f"NAS-Bench-201 {args.dataset}, {figure} (mean ± 95% CI over {args.seeds} seeds"
        + (")" if figure != "best_test_acc" else ", selection by validation accuracy)"
           if args.dataset == "cifar10" else ", selection by test accuracy: no validation column)"),
        "",
        head,
        "|" + "---|" * (len(queries) + 3),
    ]
    for s in samplers:
        cells = []
        for q in queries:
            mean, half = stats[(s, q)]
            beats = s not in baselines and baselines and all(
                mean - half > stats[(b, q)][0] + stats[(b, q)][1] for b in baselines
            )
            cells.append(f"{mean:.3f} ± {half:.3f}" + (" *" if beats else ""))
        mine = [r for r in runs if r["sampler"] == s]
        search = np.mean([r["search_seconds"] for r in mine])
        proxy = np.mean([r["proxy_seconds"] for r in mine])
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {search:.1f} | {proxy:.1f} |")
    lines += ["", "`*`: 95% CI entirely above every baseline's 95% CI "
              f"({', '.join(baselines)}) at that query count.", ""]
    return "\n".join(lines)


def plot_curves(runs: list[dict[str, Any]], figure: str, path: Path, dataset: str, multi: bool,
                data_dir: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    offset, label = 0.0, figure
    if not multi:
        from nas.tasks import create_task

        task = create_task(TASKS[dataset], data_dir=data_dir)
        columns = task.table.columns
        selector = columns[task.valid_column or task.test_column]
        offset = float(columns[task.test_column][int(np.argmax(selector))])
        label = f"regret: {offset:.2f} - test accuracy of the selected arch (%)"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in dict.fromkeys(r["sampler"] for r in runs):
        curves = np.array([r["curve"] for r in runs if r["sampler"] == s])
        curves = offset - curves if not multi else curves
        mean = curves.mean(axis=0)
        half = 1.96 * curves.std(axis=0, ddof=1) / math.sqrt(len(curves)) if len(curves) > 1 else 0
        x = np.arange(1, len(mean) + 1)
        ax.plot(x, mean, label=s)
        ax.fill_between(x, mean - half, mean + half, alpha=0.2)
    if not multi:
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]), top=2.0)  # the first queries dwarf the rest
    ax.set_xlabel("queries")
    ax.set_ylabel(label)
    ax.set_title(f"NAS-Bench-201 {dataset}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
