"""How well a learned predictor ranks NAS-Bench-201 from a few labelled architectures.

The benchmark behind ``nas bench predictor``. For each number of labels
``n`` and seed, ``n`` architectures drawn at random (seeded) from the
table are labelled with their test accuracy on ``dataset``; a
:class:`~nas.predictors.PerformancePredictor` fitted on them ranks every
other architecture of the table, and we report Spearman's rho and Kendall's
tau against the table's test accuracies (mean ± 95% CI over the seeds).

Feature sets: ``graph`` (zero-cost graph features, :mod:`nas.features`,
computed from the arch alone) always; with ``proxy_scores`` (the
``scores.jsonl`` that ``benchmarks/proxy_correlation.py`` writes) also
``proxies`` and ``graph+proxies``, all three then on the architectures
that file scored, so they compare on the same rows. ``ensembles`` (names of
:data:`proxies.ensembles.NAMED_ENSEMBLES`) add one more proxy column each:
the ensemble's label-free score, ranked over every architecture of the file,
as a study would rank its whole candidate pool (its proxies are free there).

    result = run_predictor_benchmark("cifar10", [25, 100], seeds=3, data_dir="../shared/data")
    print(result.table)
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import ConfigError

__all__ = ["DATASETS", "PredictorBenchmarkResult", "run_predictor_benchmark", "parse_labels",
           "checked_fit_args", "load_proxy_scores", "RowWriter", "half_width_text"]

#: ``--dataset`` -> the table's test-accuracy column
DATASETS = {"cifar10": "cifar10_test", "cifar100": "cifar100_test",
            "imagenet16": "imagenet16_test"}


@dataclass(frozen=True)
class PredictorBenchmarkResult:
    """The printed table, one row per (features, labels, seed), and the time taken."""

    table: str
    rows: list[dict[str, Any]]
    wall_seconds: float


def run_predictor_benchmark(
    dataset: str,
    labels: Sequence[int],
    *,
    seeds: int,
    data_dir: str | Path,
    first_seed: int = 0,
    model: str = "pairwise",
    proxy_scores: str | Path | None = None,
    proxies: Sequence[str] = ("synflow", "jacob_cov", "nwot", "meco"),
    ensembles: Sequence[str] = (),
    out: str | Path | None = None,
) -> PredictorBenchmarkResult:
    """Fit and score ``seeds`` predictors per number of labels; write ``OUT/results.csv``."""
    from scipy.stats import kendalltau, spearmanr

    from nas.predictors import PerformancePredictor
    from nas.tasks.nb201 import load_table
    from search_spaces import create_space
    from search_spaces.nb201 import arch_from_string

    if dataset not in DATASETS:
        raise ConfigError(f"--dataset: unknown '{dataset}'; allowed: {', '.join(DATASETS)}")
    labels = checked_fit_args(model, seeds, first_seed, labels)
    if ensembles and proxy_scores is None:
        raise ConfigError("--ensembles: needs --proxy-scores, the file its proxies are read from")
    started = time.time()
    table = load_table(data_dir)
    accuracy = np.asarray(table.columns[DATASETS[dataset]], dtype=np.float64)
    rows = np.arange(len(accuracy))
    sets: dict[str, np.ndarray | None] = {"graph": None}
    proxy_matrix = None
    if proxy_scores is not None:
        rows, proxy_matrix = load_proxy_scores(proxy_scores, proxies, ensembles)
        sets = {"graph": None, "proxies": proxy_matrix, "graph+proxies": proxy_matrix}
    if labels[-1] >= len(rows):
        raise ConfigError(f"--labels: {labels[-1]} labels leave nothing to rank among "
                          f"{len(rows)} architectures")
    space = create_space("nb201")
    archs = [arch_from_string(table.arch[int(r)]) for r in rows]
    graph = PerformancePredictor(space).features(archs)
    results: list[dict[str, Any]] = []
    # Rows are written as they come, so a run cut short keeps what it measured.
    writer = RowWriter(Path(out) / "results.csv" if out is not None else None)
    for name, extra in sets.items():
        x = graph if extra is None else (extra if name == "proxies" else np.hstack([graph, extra]))
        for n in labels:
            for seed in range(first_seed, first_seed + seeds):
                order = np.random.default_rng(seed).permutation(len(rows))
                train, test = order[:n], order[n:]
                predictor = _fit(model, x, accuracy[rows], train, seed)
                predicted = predictor.predict(_fill(x[test], predictor.fill))
                truth = accuracy[rows[test]]
                results.append(dict(features=name, labels=n, seed=seed,
                                    spearman=float(spearmanr(predicted, truth)[0]),
                                    kendall=float(kendalltau(predicted, truth)[0]),
                                    n_test=len(test)))
                writer.write(results[-1])
    text = _table(results, dataset, model, seeds, len(rows), proxy_scores is not None)
    if proxy_scores is not None:
        text += f"\nproxy features: {', '.join([*proxies, *ensembles])}\n"
    if out is not None:
        (Path(out) / "table.md").write_text(text, encoding="utf-8")
    return PredictorBenchmarkResult(text, results, time.time() - started)


def checked_fit_args(model: str, seeds: int, first_seed: int, labels: Sequence[int]) -> list[int]:
    """The label counts sorted and unique; a one-line :class:`ConfigError` for a bad flag."""
    from nas.predictors import MODELS

    if model not in MODELS:
        raise ConfigError(f"--model: unknown '{model}'; allowed: {', '.join(MODELS)}")
    if seeds < 1 or first_seed < 0:
        raise ConfigError(f"--seeds must be 1 or more and --first-seed 0 or more, "
                          f"got {seeds} and {first_seed}")
    counts = sorted(set(labels))
    if not counts or counts[0] < 2:
        raise ConfigError(f"--labels: label counts must be 2 or more, got {list(counts)}")
    return counts


def parse_labels(text: str) -> list[int]:
    """``--labels``: a comma list of label counts."""
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--labels: '{text}' is not a comma list of whole numbers, "
                          "e.g. 25,50,100,200") from None


def load_proxy_scores(path: str | Path, proxies: Sequence[str],
                      ensembles: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Table rows scored by every proxy needed and their scores (``NaN`` = no score).

    ``path`` is a ``scores.jsonl`` of ``benchmarks/proxy_correlation.py``: one
    JSON object per line with ``row`` (the table index) and ``scores``
    (proxy -> [score, seconds]); later lines add to earlier ones. Scores come
    back on the predictor's signed log scale (:func:`~nas.predictors.signed_log`),
    one column per proxy, then one per named ensemble of ``ensembles``: its
    score over all the rows returned (rank-based, so the scale is the rule's).
    """
    from nas.predictors import signed_log
    from proxies.ensembles import NAMED_ENSEMBLES, combine

    unknown = [e for e in ensembles if e not in NAMED_ENSEMBLES]
    if unknown:
        raise ConfigError(f"--ensembles: unknown '{unknown[0]}'; allowed: "
                          f"{', '.join(NAMED_ENSEMBLES)}")
    needed = list(dict.fromkeys([*proxies, *(p for e in ensembles
                                             for p in NAMED_ENSEMBLES[e].proxies)]))

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--proxy-scores: no such file: {path}")
    scores: dict[int, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                entry = json.loads(line)
                scores.setdefault(int(entry["row"]), {}).update(entry["scores"])
    rows = sorted(r for r, s in scores.items() if all(p in s for p in needed))
    if len(rows) < 10:
        raise ConfigError(f"--proxy-scores: {path} has {len(rows)} architectures scored by all of "
                          f"{', '.join(needed)}; need at least 10")
    raw = {p: [None if scores[r][p][0] is None else float(scores[r][p][0]) for r in rows]
           for p in needed}
    columns = [signed_log(np.array([math.nan if v is None else v for v in raw[p]]))
               for p in proxies]
    for name in ensembles:
        ensemble = NAMED_ENSEMBLES[name]
        columns.append(combine(ensemble.rule, {p: raw[p] for p in ensemble.proxies}))
    return np.asarray(rows), np.column_stack(columns)


class RowWriter:
    """Appends result rows to a CSV file (header first), flushing each; no file: does nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path, self.started = path, False

    def write(self, row: dict[str, Any]) -> None:
        if self.path is None:
            return
        if not self.started:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w" if not self.started else "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if not self.started:
                writer.writeheader()
            writer.writerow({k: f"{v:.6f}" if isinstance(v, float) else v for k, v in row.items()})
        self.started = True


class _Fitted:
    def __init__(self, model: Any, fill: np.ndarray) -> None:
        self.model, self.fill = model, fill

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(x))


def _fit(model: str, x: np.ndarray, values: np.ndarray, train: np.ndarray, seed: int) -> _Fitted:
    """The model fitted on rows ``train``; missing proxy scores filled with their median."""
    from nas.predictors import create_model

    fill = np.nanmedian(x[train], axis=0) if np.isnan(x).any() else np.zeros(x.shape[1])
    fill = np.where(np.isnan(fill), 0.0, fill)
    return _Fitted(create_model(model, seed).fit(_fill(x[train], fill), values[train]), fill)


def _fill(x: np.ndarray, fill: np.ndarray) -> np.ndarray:
    missing = np.isnan(x)
    return np.where(missing, fill[None, :], x) if missing.any() else x


def _table(results: list[dict[str, Any]], dataset: str, model: str, seeds: int, n_rows: int,
           with_proxies: bool) -> str:
    from nas.bench.search import confidence

    lines = [
        f"NAS-Bench-201 {dataset}: predictor '{model}' fitted on n labelled architectures ranks "
        f"the other {n_rows} - n ({'those the proxy file scored' if with_proxies else 'the whole table'}); "
        f"mean ± 95% CI over {seeds} seeds",
        "",
        "| features | labels | Spearman | Kendall |",
        "|---|---|---|---|",
    ]
    keys = list(dict.fromkeys((r["features"], r["labels"]) for r in results))
    for name, n in keys:
        mine = [r for r in results if r["features"] == name and r["labels"] == n]
        rho = confidence(np.array([r["spearman"] for r in mine]))
        tau = confidence(np.array([r["kendall"] for r in mine]))
        lines.append(f"| {name} | {n} | {rho[0]:.4f} ± {half_width_text(rho[1])} | "
                     f"{tau[0]:.4f} ± {half_width_text(tau[1])} |")
    return "\n".join(lines) + "\n"


def half_width_text(value: float) -> str:
    """A 95% half width for a table cell: four decimals, or n/a when it could not be computed."""
    return "n/a" if math.isnan(value) else f"{value:.4f}"
