"""Search efficiency on NAS-Bench-201: seeded searches per sampler, tabular queries, regret curves.

This is the benchmark behind ``nas bench search`` and
``benchmarks/nb201_search.py``; it lives in the package (not in the script) so
that the command works for an installed ``nas`` without a source checkout, and
both front ends share one set of argument checks.

Each (sampler, seed) runs one in-memory Optuna study on the ``nb201`` space;
a query is one look-up in the NAS-Bench-201 table through the ``tabular``
evaluator's :func:`~nas.evaluators.tabular.lookup`. After ``q`` queries the
search "returns" the architecture with the best validation accuracy among
those queried (``cifar10_valid``; CIFAR-100 and ImageNet16-120 have no
validation column in the table, so there the selection uses test accuracy,
as the tabular evaluator documents) and we report its test accuracy. A search
is sequential, so the figure at 50 queries is the 200-query run's first 50.

With ``objectives="latency"`` the study is two-objective (validation accuracy
up, HW-NAS-Bench ``edgegpu_latency`` down, CIFAR-10 only) and the figure is
the hypervolume of the queried set, both objectives scaled to [0, 1] by their
range over the whole table (reference point = worst accuracy, worst latency).

:func:`run_search_benchmark` writes ``OUT/results.csv``
(``sampler,seed,queries,best_test_acc`` or ``...,hypervolume``),
``OUT/regret.png`` (mean and 95% band per sampler) and ``OUT/table.md``, and
returns the table. Proxy compute time of ``zc-warmstart`` is reported
separately (it is not a query).

With ``warm_start=("cifar10", 100)`` every sampler also runs warm: per seed, a
finished ``cifar10`` search of ``100`` queries by the same sampler (same seed)
is the prior (:mod:`nas.samplers._prior`), as ``warm_start = [...]`` in a study
file makes earlier studies the prior of a new one; its queries are not counted.
Such rows carry the source in ``results.csv``'s ``warm_start`` column::

    result = run_search_benchmark("cifar10", ["random", "tpe"], [50, 100], seeds=3,
                                  out="bench-search", data_dir="../shared/data")
    print(result.table)
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.dominance import hypervolume, normalise, to_losses
from nas.errors import ConfigError
from nas.evaluators.tabular import lookup
from nas.samplers import SAMPLERS, check_sampler, create_sampler, uses_prior
from nas.samplers._prior import ENQUEUED_PRIOR_ARCHS, best_prior_archs, prior_trials
from nas.tasks import create_task
from search_spaces import create_space

__all__ = [
    "ALL_SAMPLERS",
    "MULTI_SAMPLERS",
    "TASKS",
    "OBJECTIVES",
    "SearchBenchmarkResult",
    "run_search_benchmark",
    "parse_samplers",
    "parse_queries",
    "parse_params",
    "parse_warm_start",
    "run_label",
    "run_search",
    "hypervolume_curve",
    "confidence",
    "markdown_table",
    "plot_curves",
]

ALL_SAMPLERS = ("random", "tpe", "evolution", "predictor-evolution", "zc-warmstart", "gp")
MULTI_SAMPLERS = ("random", "nsga2", "evolution", "predictor-evolution")
TASKS = {"cifar10": "nb201-cifar10", "cifar100": "nb201-cifar100", "imagenet16": "nb201-imagenet16"}
OBJECTIVES = ("accuracy", "latency")


@dataclass(frozen=True)
class SearchBenchmarkResult:
    """What :func:`run_search_benchmark` wrote: the table's text, the runs and the time taken."""

    table: str
    runs: list[dict[str, Any]]
    out: Path
    wall_seconds: float


def run_search_benchmark(
    dataset: str,
    samplers: Sequence[str] | None,
    queries: Sequence[int],
    *,
    seeds: int,
    out: str | Path,
    data_dir: str | Path,
    first_seed: int = 0,
    objectives: str = "accuracy",
    params: Mapping[str, Mapping[str, Any]] | None = None,
    jobs: int = 1,
    zc_proxies: Sequence[str] = ("nwot",),
    zc_pool: int = 50,
    warm_start: tuple[str, int] | None = None,
) -> SearchBenchmarkResult:
    """Run ``seeds`` searches per sampler (``None``: every sampler for ``objectives``); write OUT.

    Raises :class:`~nas.errors.ConfigError` (one line naming the option and its
    allowed values) before any search starts if an argument is out of range.
    """
    multi = objectives == "latency"
    names = list(MULTI_SAMPLERS if multi else ALL_SAMPLERS) if samplers is None else list(samplers)
    params = dict(params or {})
    _check(dataset, names, queries, seeds, first_seed, objectives, params, jobs, zc_proxies,
           zc_pool)
    if warm_start is not None and multi:
        raise ConfigError("--warm-start: takes one objective (--objectives accuracy)")
    warm = [""] + ([f"{warm_start[0]}:{warm_start[1]}"] if warm_start is not None else [])
    queries = sorted(set(queries))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = [
        dict(sampler=s, seed=seed, dataset=dataset, n_queries=queries[-1], multi=multi,
             params=params.get(s, {}), data_dir=str(data_dir),
             zc_proxies=list(zc_proxies), zc_pool=zc_pool,
             zc_cache=f"sqlite:///{(out / 'proxy_scores.db').resolve()}", warm_start=w)
        for s in names for w in warm for seed in range(first_seed, first_seed + seeds)
    ]
    started = time.time()
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            runs = list(pool.map(run_search, work))
    else:
        runs = [run_search(j) for j in work]
    figure = "hypervolume" if multi else "best_test_acc"
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sampler", "warm_start", "seed", "queries", figure])
        for run in runs:
            for q in queries:
                writer.writerow([run["sampler"], run["warm_start"], run["seed"], q,
                                 f"{run['curve'][q - 1]:.6f}"])
    table = markdown_table(runs, queries, figure, dataset, seeds)
    (out / "table.md").write_text(table, encoding="utf-8")
    plot_curves(runs, figure, out / "regret.png", dataset, multi, str(data_dir))
    return SearchBenchmarkResult(table, runs, out, time.time() - started)


def parse_samplers(text: str) -> list[str] | None:
    """``--sampler``: a comma list, or ``all`` (``None``: every sampler for the objectives)."""
    if text.strip() == "all":
        return None
    return [s.strip() for s in text.split(",") if s.strip()]


def parse_queries(text: str) -> list[int]:
    """``--queries``: a comma list of query counts."""
    try:
        return [int(q) for q in text.split(",")]
    except ValueError:
        raise ConfigError(f"--queries: '{text}' is not a comma list of whole numbers, "
                          "e.g. 50,100,200") from None


def parse_warm_start(text: str | None) -> tuple[str, int] | None:
    """``--warm-start``: ``DATASET`` or ``DATASET:QUERIES`` (default 100 queries)."""
    if not text:
        return None
    dataset, _, queries = text.partition(":")
    if dataset not in TASKS:
        raise ConfigError(f"--warm-start: unknown dataset '{dataset}'; allowed: {', '.join(TASKS)}")
    try:
        count = int(queries) if queries else 100
    except ValueError:
        count = 0
    if count < 1:
        raise ConfigError(f"--warm-start: '{queries}' is not a query count of 1 or more, "
                          "e.g. cifar10:100")
    return dataset, count


def run_label(run: Mapping[str, Any]) -> str:
    """A run's row in the tables: the sampler, and its prior when warm-started."""
    return run["sampler"] + (f" ← {run['warm_start']}" if run.get("warm_start") else "")


def parse_params(text: str) -> dict[str, dict[str, Any]]:
    """``--params``: a JSON object, sampler name -> its parameters."""
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--params: not JSON ({exc}); e.g. "
                          '{"tpe": {"n_startup_trials": 20}}') from None
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise ConfigError('--params: must be a JSON object of sampler -> object of parameters, '
                          'e.g. {"tpe": {"n_startup_trials": 20}}')
    return params


def _check(dataset: str, names: list[str], queries: Sequence[int], seeds: int, first_seed: int,
           objectives: str, params: Mapping[str, Mapping[str, Any]], jobs: int,
           zc_proxies: Sequence[str], zc_pool: int) -> None:
    """One-line :class:`ConfigError` for the first argument out of range."""
    if dataset not in TASKS:
        raise ConfigError(f"--dataset: unknown '{dataset}'; allowed: {', '.join(TASKS)}")
    if objectives not in OBJECTIVES:
        raise ConfigError(f"--objectives: unknown '{objectives}'; allowed: {', '.join(OBJECTIVES)}")
    if objectives == "latency" and dataset != "cifar10":
        raise ConfigError(f"--objectives: latency needs --dataset cifar10 (HW-NAS-Bench latencies "
                          f"exist for cifar10 only), got '{dataset}'")
    if not names:
        raise ConfigError(f"--sampler: give a comma list or 'all'; allowed: {', '.join(SAMPLERS.names())}")
    if not queries or any(q < 1 for q in queries):
        raise ConfigError(f"--queries: query counts must be 1 or more, got {list(queries)}")
    if seeds < 1:
        raise ConfigError(f"--seeds: must be 1 or more, got {seeds}")
    if first_seed < 0:
        raise ConfigError(f"--first-seed: must be 0 or more, got {first_seed}")
    if jobs < 1:
        raise ConfigError(f"--jobs: must be 1 or more, got {jobs}")
    if zc_pool < 1:
        raise ConfigError(f"--zc-pool: must be 1 or more, got {zc_pool}")
    if not [p for p in zc_proxies if p]:
        raise ConfigError("--zc-proxies: give at least one proxy name, e.g. nwot")
    for name in params:
        if name not in SAMPLERS:
            raise ConfigError(f"--params: {SAMPLERS.unknown_message(name)}")
    for name in names:
        if name not in SAMPLERS:
            raise ConfigError(f"--sampler: {SAMPLERS.unknown_message(name)}")
        try:
            check_sampler(name, dict(params.get(name, {})), 2 if objectives == "latency" else 1)
        except ConfigError as exc:
            raise ConfigError(f"--sampler {name} (--objectives {objectives}): {exc}") from None


def run_search(job: dict[str, Any]) -> dict[str, Any]:
    """One seeded search; ``curve[i]`` is the figure after ``i + 1`` queries."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    space = create_space("nb201", {})
    task: Any = create_task(TASKS[job["dataset"]], data_dir=job["data_dir"])  # an NB201Task
    task.prepare("cpu")
    directions: list[Any] = ["maximize", "minimize"] if job["multi"] else ["maximize"]
    params = dict(job["params"])
    prior = _prior(job) if job.get("warm_start") else []
    proxy_seconds = 0.0
    if job["sampler"] == "zc-warmstart":
        params.setdefault("proxies", job["zc_proxies"])
        params.setdefault("pool_size", job["zc_pool"])
        params.setdefault("cache", job["zc_cache"])
    started = time.perf_counter()
    # The budget is the largest query count: the figure at fewer queries is this search's prefix.
    sampler = create_sampler(job["sampler"], params, seed=job["seed"], directions=directions,
                             space=space, task=task, prior=prior, budget=job["n_queries"])
    if job["sampler"] == "zc-warmstart":
        proxy_seconds = getattr(sampler, "proxy_seconds", time.perf_counter() - started)
    study = optuna.create_study(directions=directions, sampler=sampler)
    if prior and not uses_prior(job["sampler"]):  # as a study file's warm_start does
        for arch in best_prior_archs(prior, ENQUEUED_PRIOR_ARCHS):
            study.enqueue_trial(arch)
    records: list[tuple[float, float, float]] = []  # (val, test, latency)

    def objective(trial: optuna.Trial) -> Any:
        metrics = lookup(task, space.sample(trial)).metrics
        latency = metrics.get("edgegpu_latency", math.nan)
        # The store keeps fractions; this benchmark reports accuracy in % (as the
        # NAS-Bench-201 literature does) and its samplers see the same figures as before.
        val, test = 100 * metrics["val_accuracy"], 100 * metrics["test_accuracy"]
        records.append((val, test, latency))
        return (val, latency) if job["multi"] else val

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
                proxy_seconds=proxy_seconds, search_seconds=search_seconds,
                warm_start=job.get("warm_start", ""),
                archs=[t.params for t in study.trials], values=values[:, 0].tolist())


def _prior(job: Mapping[str, Any]) -> list[Any]:
    """The prior of a warm run: the same sampler's finished search on the source dataset."""
    dataset, _, queries = job["warm_start"].partition(":")
    source = run_search(dict(job, dataset=dataset, n_queries=int(queries), warm_start=""))
    return prior_trials(zip(source["archs"], source["values"]))


def hypervolume_curve(points: np.ndarray, task: Any) -> np.ndarray:
    """Hypervolume after each query, (val accuracy, latency) scaled by their ranges in the table."""
    table = task.table.columns
    accuracy, latency = table[task.valid_column], table["edgegpu_latency"]
    # The box is the table's whole range: best accuracy and latency to the worst.
    directions = ["maximize", "minimize"]
    ideal = to_losses([accuracy.max(), latency.min()], directions)[0]
    reference = to_losses([accuracy.min(), latency.max()], directions)[0]
    losses = normalise(to_losses(points, directions), ideal, reference)
    return np.array([hypervolume(losses[: i + 1], np.ones(2)) for i in range(len(losses))])


def confidence(values: np.ndarray) -> tuple[float, float]:
    """Mean and half-width of its 95% confidence interval (Student t)."""
    from scipy import stats

    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, math.nan
    return mean, float(stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n))


def markdown_table(runs: list[dict[str, Any]], queries: list[int], figure: str, dataset: str,
                   seeds: int) -> str:
    """Mean ± 95% CI per sampler and query count; ``*`` marks a CI above every baseline's."""
    samplers = list(dict.fromkeys(run_label(r) for r in runs))
    stats = {
        (s, q): confidence(np.array([r["curve"][q - 1] for r in runs if run_label(r) == s]))
        for s in samplers for q in queries
    }
    baselines = [s for s in ("random", "evolution", "tpe", "nsga2") if s in samplers]
    head = "| sampler | " + " | ".join(f"{q} queries" for q in queries) + \
        " | search s/seed | proxy s/seed |"
    lines = [
        f"NAS-Bench-201 {dataset}, {figure}{' in %' if figure == 'best_test_acc' else ''} "
        f"(mean ± 95% CI over {seeds} seeds"
        + (")" if figure != "best_test_acc" else ", selection by validation accuracy)"
           if dataset == "cifar10" else ", selection by test accuracy: no validation column)"),
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
        mine = [r for r in runs if run_label(r) == s]
        search = np.mean([r["search_seconds"] for r in mine])
        proxy = np.mean([r["proxy_seconds"] for r in mine])
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {search:.1f} | {proxy:.1f} |")
    lines += ["", "`*`: 95% CI entirely above every baseline's 95% CI "
              f"({', '.join(baselines)}) at that query count.", ""]
    return "\n".join(lines)


def plot_curves(runs: list[dict[str, Any]], figure: str, path: Path, dataset: str, multi: bool,
                data_dir: str) -> None:
    """Mean curve and 95% band per sampler: regret for accuracy, hypervolume for latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    offset, label = 0.0, figure
    if not multi:
        task: Any = create_task(TASKS[dataset], data_dir=data_dir)  # an NB201Task
        columns = task.table.columns
        selector = columns[task.valid_column or task.test_column]
        offset = float(columns[task.test_column][int(np.argmax(selector))])
        label = f"regret: {offset:.2f} - test accuracy of the selected arch (%)"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in dict.fromkeys(run_label(r) for r in runs):
        curves = np.array([r["curve"] for r in runs if run_label(r) == s])
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
