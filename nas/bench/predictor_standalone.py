"""How well a learned predictor ranks standalone-trained architectures, beside the free rankers.

The mode of ``nas bench predictor`` for spaces without a table
(``--space gnn --task cora``). NAS-Bench-201 has a table to learn from;
elsewhere the labels must be paid for, so they are what ``nas bench
supernet`` measures (:func:`~nas.bench.supernet_ranking.rank_supernet`):
``n_archs`` seeded architectures trained standalone with the preset's recipe
(gnn/cora: the mean of 6 seeds' best validation accuracy in 100 epochs; 3 before
stop 34) and the same run's supernet scores (gnn/cora: 8 few-shot supernets).
That run is paid once: it goes to ``OUT/supernet-run`` unless ``supernet_run``
names an earlier one (``nas bench supernet --out DIR`` or this command's), whose
``ranking.csv`` is reused.

For each split seed, ``n`` architectures drawn by the seed train a
:class:`~nas.predictors.PerformancePredictor` (the samplers' surrogate) that
ranks the others. On exactly those held-out architectures, against the same
reference, the free rankers are scored too: each zero-cost proxy (an
untrained network on the task's example batch), the supernet score and the
parameter count. A predictor is only worth its labels if it beats them there.
Figures are mean ± 95% CI over the split seeds; the splits share one draw of
architectures, so the interval says how much the choice of labelled
architectures moves a figure, not what another draw of the space would give.

    result = run_standalone_predictor_benchmark("gnn", "cora", [100], seeds=10, out="bench")
    print(result.table)
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nas.bench.predictor import (
    PredictorBenchmarkResult,
    RowWriter,
    checked_fit_args,
    half_width_text,
)
from nas.bench.search import confidence
from nas.bench.supernet_ranking import (
    PRESETS,
    Preset,
    param_counts,
    prepare,
    preset_for,
    rank_supernet,
    seeded_archs,
)
from nas.errors import ConfigError
from nas.predictors import PerformancePredictor

__all__ = ["run_standalone_predictor_benchmark"]


def run_standalone_predictor_benchmark(
    space_name: str,
    task_name: str,
    labels: Sequence[int],
    *,
    seeds: int,
    out: str | Path,
    n_archs: int | None = None,
    arch_seed: int = 0,
    first_seed: int = 0,
    model: str = "pairwise",
    proxies: Sequence[str] = ("synflow", "jacob_cov", "nwot", "meco"),
    supernet_run: str | Path | None = None,
    preset: Preset | None = None,
    data_dir: str | Path | None = None,
) -> PredictorBenchmarkResult:
    """Fit ``seeds`` predictors per label count; write ``results.csv``, ``table.md``, ``scores.csv``.

    ``n_archs`` defaults to 200 when the run is trained here and to the rows of
    ``supernet_run/ranking.csv`` when one is reused.
    """
    from proxies import PROXIES

    if (space_name, task_name) not in PRESETS:
        raise ConfigError(f"--space/--task: no preset for {space_name}/{task_name}; allowed: "
                          + ", ".join(f"{s}/{t}" for s, t in PRESETS))
    labels = checked_fit_args(model, seeds, first_seed, labels)
    for name in proxies:
        PROXIES.get(name)  # an unknown name fails here, listing the known ones
    started = time.time()
    out = Path(out)
    preset = preset or preset_for(space_name, task_name)
    if supernet_run is None:
        supernet_run = out / "supernet-run"
        rank_supernet(space_name, task_name, n_archs or 200, supernet_run, seed=arch_seed,
                      preset=preset, data_dir=data_dir)
    keys, supernet, standalone = _read_run(Path(supernet_run))
    if n_archs is not None and n_archs != len(keys):
        raise ConfigError(f"--n-archs: {n_archs}, but --supernet-run {supernet_run} ranked "
                          f"{len(keys)} architectures")
    if labels[-1] > len(keys) - 2:
        raise ConfigError(f"--labels: {labels[-1]} labels leave fewer than 2 of {len(keys)} "
                          "architectures to rank")

    space, task, spec = prepare(space_name, task_name, preset, seed=arch_seed,
                                data_dir=data_dir, device="cpu")
    archs = seeded_archs(space, len(keys), arch_seed)
    if [a.key for a in archs] != keys:
        raise ConfigError(f"--supernet-run: {supernet_run}/ranking.csv holds other architectures "
                          f"than {space_name}/{task_name} draws with --arch-seed {arch_seed} "
                          "(run nas bench supernet with the same seed and preset)")
    proxy_scores = _proxy_scores(space, task, spec, archs, proxies)
    free = {"supernet": supernet, "params": np.asarray(param_counts(space, spec, archs), float),
            **{name: proxy_scores[:, j] for j, name in enumerate(proxies)}}
    _write_scores(out / "scores.csv", keys, standalone, free)

    results: list[dict[str, Any]] = []
    writer = RowWriter(out / "results.csv")  # rows as they come: a cut run keeps them
    for n in labels:
        for seed in range(first_seed, first_seed + seeds):
            order = np.random.default_rng(seed).permutation(len(archs))
            train, test = order[:n], order[n:]
            ranked: dict[str, np.ndarray] = {}
            for name, extra in (("predictor", None), ("predictor+proxies", proxy_scores)):
                predictor = PerformancePredictor(space, model, seed=seed).fit(
                    [archs[i] for i in train], standalone[train].tolist(),
                    None if extra is None else extra[train])
                ranked[name] = predictor.predict([archs[i] for i in test],
                                                 None if extra is None else extra[test])
            ranked.update({name: column[test] for name, column in free.items()})
            for name, predicted in ranked.items():
                rho, tau = _correlate(predicted, standalone[test])
                results.append(dict(ranker=name, labels=n, seed=seed, spearman=rho, kendall=tau,
                                    n_test=len(test)))
                writer.write(results[-1])
    whole = {name: _correlate(column, standalone)[0] for name, column in free.items()}
    text = _table(results, whole, space_name, task_name, model, seeds, len(archs),
                  _standalone_seeds(Path(supernet_run)))
    (out / "table.md").write_text(text, encoding="utf-8")
    return PredictorBenchmarkResult(text, results, time.time() - started)


def _read_run(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Arch keys, supernet scores and standalone scores of a ``nas bench supernet`` run."""
    path = folder / "ranking.csv"
    if not path.is_file():
        raise ConfigError(f"--supernet-run: no ranking.csv in {folder} (give the --out folder of "
                          "nas bench supernet, or of an earlier nas bench predictor's supernet-run)")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return ([r["arch_key"] for r in rows],
            np.array([float(r["supernet_score"]) for r in rows]),
            np.array([float(r["standalone_score"]) for r in rows]))


def _standalone_seeds(folder: Path) -> int | None:
    """How many standalone seeds the reference averages (``None``: a table, no standalone.csv)."""
    path = folder / "standalone.csv"
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as handle:
        return sum(name.startswith("seed") for name in next(csv.reader(handle)))


def _proxy_scores(space: Any, task: Any, spec: Any, archs: list[Any],
                  names: Sequence[str]) -> np.ndarray:
    """One row per arch, one column per proxy (``NaN``: no score), as the ``proxy`` evaluator
    scores: init seeded 0, the task's example batch with seed 0."""
    import torch

    from proxies import score

    batch = task.example_batch(batch_size=64, seed=0)
    matrix = np.full((len(archs), len(names)), np.nan)
    for i, arch in enumerate(archs):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = space.build(arch, spec)
        for j, result in enumerate(score(model, batch, names, seed=0).values()):
            if result.score is not None:
                matrix[i, j] = result.score
    return matrix


def _correlate(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Spearman and Kendall; a missing score (``NaN``) ranks below every scored arch."""
    from scipy.stats import kendalltau, spearmanr

    finite = np.isfinite(predicted)
    if not finite.any():
        return float("nan"), float("nan")
    filled = np.where(finite, predicted, predicted[finite].min() - 1)
    return float(spearmanr(filled, truth)[0]), float(kendalltau(filled, truth)[0])


def _write_scores(path: Path, keys: list[str], standalone: np.ndarray,
                  free: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arch_key", "standalone", *free])
        for i, key in enumerate(keys):
            writer.writerow([key, repr(float(standalone[i])),
                             *("" if np.isnan(c[i]) else repr(float(c[i])) for c in free.values())])


def _table(results: list[dict[str, Any]], whole: dict[str, float], space: str, task: str,
           model: str, seeds: int, n_archs: int, standalone_seeds: int | None) -> str:
    reference = ("the table's score" if standalone_seeds is None
                 else f"standalone training, mean of {standalone_seeds} seed(s)")
    lines = [
        f"{space}/{task}: {n_archs} seeded architectures, reference {reference}; predictor "
        f"'{model}' fitted on n of them ranks the other {n_archs} - n, and every ranker is "
        f"scored on those same held-out architectures; mean ± 95% CI over {seeds} split seeds. "
        f"Last column: the free rankers on all {n_archs}.",
        "",
        "| ranker | labels | Spearman | Kendall | Spearman, all |",
        "|---|---|---|---|---|",
    ]
    for name, n in dict.fromkeys((r["ranker"], r["labels"]) for r in results):
        mine = [r for r in results if r["ranker"] == name and r["labels"] == n]
        rho = confidence(np.array([r["spearman"] for r in mine]))
        tau = confidence(np.array([r["kendall"] for r in mine]))
        overall = f"{whole[name]:.4f}" if name in whole else ""
        lines.append(f"| {name} | {n} | {rho[0]:.4f} ± {half_width_text(rho[1])} | "
                     f"{tau[0]:.4f} ± {half_width_text(tau[1])} | {overall} |")
    return "\n".join(lines) + "\n"
