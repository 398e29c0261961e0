"""Searched against hand-designed: one study file, the same evaluator, recipe and seeds.

``nas bench family STUDY`` answers the question a practitioner asks before
trusting a NAS tool: does the model the search finds beat the network I would
have written by hand, trained the same way? It

1. runs the study file's search as it is (space, sampler, evaluator, pruner,
   budget) on a store under ``OUT`` (rerunning the command resumes it),
2. ranks the trials that reached the final fidelity by the study's first
   objective (optionally only those with at most as many parameters as a
   baseline: ``within_params``), ties broken by the lower validation loss,
3. retrains the ``finalists`` best of them (3 by default, distinct
   architectures) with seeds ``first_seed ..`` by the **final evaluator** (the
   study's ``train`` evaluator, or the last rung of its ``ladder``) and keeps
   the one with the best mean *validation* figure as the searched model: a
   search scores each trial with one or two seeds, and on a small validation
   set (Cora's 500 nodes) the top few trials are within that noise of each
   other. The finalists' retraining counts as search cost. Test figures never
   steer the search or this choice,
4. trains each of the space's hand-designed baselines (``[space] baseline =
   NAME``, :attr:`SearchSpace.baselines`) with that same evaluator and seeds,

and reports each row's test metric (mean ± std over seeds, every seed),
parameters and CPU latency (every row timed in turn, so their ratio is fair on
a busy machine: :func:`side_by_side_latency`), the searched row's margin over
each baseline with a 95% Welch interval, and the search cost (wall time,
trials by state, how many trials stopped at each fidelity). Every retraining is
appended to ``OUT/retrain.jsonl`` as it finishes, so a killed run loses at most one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.config import Component, FrozenDict, StudyConfig
from nas.errors import ConfigError
from nas.store import DUPLICATE_ATTR
from nas.units import metric_unit

if TYPE_CHECKING:
    import optuna

    from nas.architecture import Architecture
    from nas.evaluators import Evaluator

__all__ = ["FamilyRow", "SearchCost", "FamilyResult", "final_evaluator", "run_family_benchmark",
           "with_task", "parse_params_cap", "side_by_side_latency"]

#: the evaluator whose recipe is the final retraining (a ladder's last rung must be one)
FINAL_EVALUATOR = "train"
#: rounds of :func:`side_by_side_latency`; each times every row once (5 repeats, median)
LATENCY_ROUNDS = 7


@dataclass
class FamilyRow:
    """One network retrained with every seed: the searched one, a baseline, or one given."""

    name: str
    kind: str  # "searched", "baseline" or "given"
    arch: dict[str, Any]
    seeds: list[int] = field(default_factory=list)
    test: list[float] = field(default_factory=list)  # the task's metric on test, store units
    val: list[float] = field(default_factory=list)
    params: int | None = None
    flops: float | None = None
    latency_ms: float | None = None
    retrain_seconds: float = 0.0

    @property
    def mean(self) -> float:
        return statistics.fmean(self.test) if self.test else math.nan

    @property
    def std(self) -> float:
        return statistics.stdev(self.test) if len(self.test) > 1 else 0.0

    @property
    def val_mean(self) -> float:
        return statistics.fmean(self.val) if self.val else math.nan

    @property
    def val_std(self) -> float:
        return statistics.stdev(self.val) if len(self.val) > 1 else 0.0


@dataclass
class SearchCost:
    """What the search spent: wall time on this machine, trials by state and by fidelity."""

    wall_seconds: float
    trials: dict[str, int]
    fidelity: dict[str, int]
    best_trial: int | None = None
    best_value: float | None = None
    load_average: float | None = None
    #: the finalists retrained to pick the searched model: trial number, its search figure
    #: and the mean validation figure of the retraining (no test figure: it never steers)
    finalists: list[dict[str, Any]] = field(default_factory=list)
    #: the retraining time of the finalists not picked (the picked one's is its row's)
    finalist_seconds: float = 0.0


@dataclass
class FamilyResult:
    study: str
    task: str
    metric: str
    higher_is_better: bool
    recipe: str
    rows: list[FamilyRow]
    cost: SearchCost | None
    #: the batch size the rows' latency was timed at, side by side (None: not timed)
    latency_batch: int | None = None

    def margin(self, baseline: FamilyRow) -> tuple[float, float]:
        """Searched minus ``baseline`` (positive: the searched one is better, in the metric's
        direction) and the half width of its 95% Welch interval (nan with one seed)."""
        searched = self.rows[0]
        sign = 1.0 if self.higher_is_better else -1.0
        diff = sign * (searched.mean - baseline.mean)
        return diff, _welch_half_width(searched.test, baseline.test)

    def to_records(self) -> list[dict[str, Any]]:
        """One record per row (store units: accuracy as a fraction), for JSON and CSV."""
        records = []
        for row in self.rows:
            record: dict[str, Any] = {
                "name": row.name, "kind": row.kind, "metric": f"test_{self.metric}",
                "mean": row.mean, "std": row.std, "val_mean": row.val_mean,
                "val_std": row.val_std, "n_seeds": len(row.test),
                "seeds": row.seeds, "test": row.test, "val": row.val, "params": row.params,
                "flops": row.flops, "latency_ms": row.latency_ms,
                "retrain_seconds": round(row.retrain_seconds, 1), "arch": row.arch,
            }
            if row.kind != "searched" and self.rows[0].kind == "searched":
                diff, half = self.margin(row)
                record.update(margin=diff, margin_ci95=half)
            records.append(record)
        return records


# -- configuration -----------------------------------------------------------

def with_task(config: StudyConfig, task: str) -> StudyConfig:
    """The same study on another task (its params kept), under ``<name>-<task>``."""
    raw = dict(config.raw)
    raw["task"] = dict(raw.get("task") or {}, name=task)
    return replace(config.with_overrides(study_name=f"{config.name}-{task}"),
                   task=Component(task, config.task.params), raw=FrozenDict(raw))


def final_evaluator(config: StudyConfig) -> Component:
    """The evaluator that gives a trial its final figure and retrains the finalists.

    A ``train`` evaluator is its own final one; a ``ladder``'s is its last rung,
    which must train (a proxy or a table is no recipe to retrain with).
    """
    evaluator = config.evaluator
    if evaluator.name == "ladder":
        rungs = evaluator.params.get("rungs") or []
        last = rungs[-1] if rungs else {}
        evaluator = Component(str(last.get("evaluator")), FrozenDict(last.get("params") or {}))
    if evaluator.name != FINAL_EVALUATOR:
        raise ConfigError(f"evaluator: nas bench family retrains with the study's final "
                          f"evaluator, which must be '{FINAL_EVALUATOR}' (or a ladder whose last "
                          f"rung is); this study's is '{evaluator.name}'")
    return evaluator


def parse_params_cap(value: str | None, baselines: dict[str, int]) -> int | None:
    """``--within-params``: a count (``270000``, ``0.27M``, ``270k``) or a baseline's name."""
    if value is None:
        return None
    if value in baselines:
        return baselines[value]
    text = value.strip().lower()
    scale = {"k": 1e3, "m": 1e6}.get(text[-1:], 1.0)
    try:
        number = float(text[:-1] if scale != 1.0 else text) * scale
    except ValueError:
        known = ", ".join(baselines) or "none"
        raise ConfigError(f"--within-params: '{value}' is neither a parameter count (e.g. "
                          f"270000 or 0.27M) nor a baseline; baselines: {known}") from None
    if number <= 0:
        raise ConfigError(f"--within-params: must be positive, got {value}")
    return int(number)


# -- the benchmark -------------------------------------------------------------

def run_family_benchmark(
    config: StudyConfig,
    *,
    out: Path,
    seeds: int = 5,
    first_seed: int = 0,
    baselines: list[str] | None = None,
    arch: dict[str, Any] | None = None,
    skip_search: bool = False,
    within_params: str | None = None,
    finalists: int = 3,
    device: str = "cpu",
    progress: bool = True,
    log: Any = print,
) -> FamilyResult:
    """Search (or resume), retrain the best and the baselines with the same seeds; report."""
    from nas.search.worker import build_components

    out.mkdir(parents=True, exist_ok=True)
    final = final_evaluator(config)
    retrain_config = replace(config, evaluator=final)
    space, task, _ = build_components(retrain_config, device)  # checks space, task and data
    names = list(space.baselines) if baselines is None else baselines
    for name in names:
        space.baseline(name)  # an unknown name is a one-line error before any training
    seed_list = list(range(first_seed, first_seed + seeds))
    cache = _RetrainCache(out / "retrain.jsonl", recipe=_recipe_key(retrain_config))
    recipe = _describe(final)

    baseline_rows = [_baseline_row(retrain_config, name, device) for name in names]
    rows: list[FamilyRow] = []
    cost = None
    ranked: list[tuple[Any, Architecture]] = []
    _, _, evaluator = build_components(retrain_config, device)
    if arch is not None:
        rows.append(FamilyRow("given", "given", dict(_complete(space, arch))))
    elif not skip_search:
        cap = parse_params_cap(within_params, {r.name: r.params or 0 for r in baseline_rows})
        cost, ranked = _search(config.with_overrides(storage=f"sqlite:///{out / 'study.db'}"),
                               out, cap, progress=progress)
        log(f"search: {cost.wall_seconds:.0f} s wall; best trial #{cost.best_trial}: "
            f"{dict(ranked[0][1])}")

    models = []
    with _epoch_lines(progress):  # a retraining is many minutes: show its evaluations
        if cost is not None:
            rows.append(_pick_finalist(ranked[:finalists], cost, evaluator, seed_list, cache,
                                       task, task.higher_is_better, log))
        rows.extend(baseline_rows)
        for row in rows:
            row_space, _, row_evaluator = (
                build_components(_as_baseline(retrain_config, row.name), device)
                if row.kind == "baseline" else (space, task, evaluator))
            row_arch = row_space.validate(row.arch)
            if not row.test:  # else a finalist's retraining: already done
                _retrain(row, row_arch, row_evaluator, seed_list, cache, task, log)
            models.append(row_space.build(row_arch, task.prepare("cpu")))
    batch = task.example_batch(seed=0)
    for row, latency in zip(rows, side_by_side_latency(models, batch)):
        row.latency_ms = latency
    return FamilyResult(config.name, config.task.name, task.metric, task.higher_is_better,
                        recipe, rows, cost, latency_batch=_batch_rows(batch))


@contextlib.contextmanager
def _epoch_lines(on: bool) -> Iterator[None]:
    """The training loop's per-evaluation lines (``nas.train`` at INFO) while ``on``."""
    logger = logging.getLogger("nas.train")
    before = logger.level
    if on:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(before)


def side_by_side_latency(models: list[Any], batch: Any, rounds: int = LATENCY_ROUNDS,
                         repeats: int = 5) -> list[float]:
    """Each model's median CPU latency (ms, one thread) over ``rounds`` rounds that time
    every model in turn.

    A retraining's own latency is timed when it finishes, under whatever else the machine
    runs then (ResNet-20's five seeds: 63 to 91 ms at load 2), so two rows' figures from
    different moments do not make a ratio. Timed in turn, under the same load, they do.
    """
    from nas.metrics import measure_latency

    times: list[list[float]] = [[] for _ in models]
    for _ in range(rounds):
        for model, row_times in zip(models, times):
            row_times.append(measure_latency(model, batch, repeats=repeats).median_ms)
    return [statistics.median(row_times) for row_times in times]


def _batch_rows(batch: Any) -> int | None:
    inputs = getattr(batch, "inputs", ())
    return int(inputs[0].shape[0]) if inputs and hasattr(inputs[0], "shape") else None


def _baseline_row(config: StudyConfig, name: str, device: str) -> FamilyRow:
    from nas.metrics import count_params
    from nas.search.worker import build_components

    space, task, _ = build_components(_as_baseline(config, name), device)
    arch = space.default()
    model = space.build(arch, task.prepare("cpu"))
    return FamilyRow(name, "baseline", dict(arch), params=count_params(model))


def _complete(space: Any, arch: dict[str, Any]) -> Architecture:
    """``arch`` with every choice it leaves out at the space's default, validated.

    A hand probe names what it changes ('ResNet-20 with one block in stage 1' is
    ``{"s1_depth": 1}``), not the dozens of choices it keeps; a misspelt or disallowed
    choice is still a one-line error before any training."""
    from nas.errors import InvalidArchitecture

    try:
        return space.validate(space.default().replace(**arch))
    except InvalidArchitecture as exc:
        raise ConfigError(f"--arch: {exc}") from None


def _as_baseline(config: StudyConfig, name: str) -> StudyConfig:
    """The study with its space fixed to the preset ``name``: the study's own narrowing of
    the choices is left out, so the baseline is the hand-designed network as published."""
    return replace(config, space=Component(config.space.name, FrozenDict({"baseline": name})))


def _pick_finalist(ranked: list[tuple[Any, Architecture]], cost: SearchCost,
                   evaluator: Evaluator, seeds: list[int], cache: _RetrainCache, task: Any,
                   higher_is_better: bool, log: Any) -> FamilyRow:
    """Retrain each finalist with every seed; the searched row is the best by mean validation
    (ties: the better-ranked trial). Records the finalists and their cost in ``cost``."""
    rows = []
    for trial, arch in ranked:
        row = FamilyRow(f"trial #{trial.number}", "finalist", dict(arch))
        _retrain(row, arch, evaluator, seeds, cache, task, log)
        rows.append(row)
    sign = 1.0 if higher_is_better else -1.0
    picked = max(range(len(rows)), key=lambda i: (sign * rows[i].val_mean, -i))
    cost.finalists = [{"trial": trial.number, "search_value": float(trial.values[0]),
                       "val_mean": row.val_mean, "picked": i == picked}
                      for i, ((trial, _), row) in enumerate(zip(ranked, rows))]
    cost.finalist_seconds = sum(r.retrain_seconds for i, r in enumerate(rows) if i != picked)
    cost.best_trial = ranked[picked][0].number
    cost.best_value = float(ranked[picked][0].values[0])
    if len(rows) > 1:
        log(f"finalists by mean validation over seeds {seeds[0]}..{seeds[-1]}: "
            + ", ".join(f"{r.name} {r.val_mean:.4f}" for r in rows)
            + f"; picked {rows[picked].name}")
    return replace(rows[picked], name="searched", kind="searched")


def _search(config: StudyConfig, out: Path, params_cap: int | None,
            progress: bool) -> tuple[SearchCost, list[tuple[Any, Architecture]]]:
    """Run or resume the search; its cost (wall time summed over resumes) and the complete
    trials at the final fidelity with their architectures, best first, one per architecture.

    A search that ended (its budget or its timeout) is not extended by a rerun, which only
    redoes the report; a larger ``n_trials`` (``--n-trials``) searches on."""
    from nas.search import run
    from nas.search.study import load_study, storage_for

    ledger = out / "search.json"
    record = json.loads(ledger.read_text()) if ledger.exists() else {}
    spent = float(record.get("wall_seconds", 0.0))
    if not (record.get("finished") and record.get("n_trials") == config.budget.n_trials):
        start = time.perf_counter()
        outcome = run(config, progress=progress)
        spent += time.perf_counter() - start
        # Ctrl-C ends a search gracefully: not finished, so the next run resumes it.
        record = {"wall_seconds": spent, "finished": not outcome.interrupted,
                  "n_trials": config.budget.n_trials,
                  # how busy the machine was while it searched, not when a rerun reports
                  "load_average": os.getloadavg()[2]}
        ledger.write_text(json.dumps(record))
    study = load_study(config.name, storage_for(config.storage))
    trials = study.get_trials(deepcopy=False)
    from nas.search.worker import build_components

    space = build_components(config, "cpu")[0]
    ranked, seen = [], set()
    for trial in _ranked_trials(config, study, trials, params_cap):
        arch = space.validate(trial.user_attrs["arch"])
        if arch.key not in seen:
            seen.add(arch.key)
            ranked.append((trial, arch))
    cost = SearchCost(
        wall_seconds=spent,
        trials=dict(Counter(t.state.name.lower() for t in trials)),
        fidelity=dict(Counter(_stopped_at(t) for t in trials)),
        best_trial=ranked[0][0].number, best_value=float(ranked[0][0].values[0]),
        load_average=record.get("load_average"),
    )
    return cost, ranked


def _ranked_trials(config: StudyConfig, study: optuna.Study, trials: list[Any],
                   params_cap: int | None) -> list[Any]:
    """The complete trials at the final fidelity, best first by the first objective (ties:
    lower validation loss); with a cap, only trials with at most that many parameters."""
    import optuna

    final = final_evaluator(config).name
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE
            and t.user_attrs.get("fidelity", final) == final]
    if params_cap is not None:
        done = [t for t in done
                if t.user_attrs.get("metrics", {}).get("params", math.inf) <= params_cap]
    if not done:
        cap = f" with at most {params_cap:,} parameters" if params_cap is not None else ""
        raise ConfigError(f"study '{config.name}': no complete trial at the final fidelity "
                          f"({final}){cap}; raise [budget] n_trials or loosen the cap")
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return sorted(done, key=lambda t: (sign * t.values[0],
                                       t.user_attrs.get("metrics", {}).get("val_loss", math.inf)))


def _stopped_at(trial: Any) -> str:
    """The fidelity a trial's last figure came from: ``rung 1 (train)``, ``train``, ..."""
    attrs = trial.user_attrs
    fidelity = attrs.get("fidelity")
    if "invalid" in attrs:
        return "invalid (never built)"  # e.g. above the space's max_params
    if DUPLICATE_ATTR in attrs:
        return "duplicate (not trained again)"  # the sampler proposed a trained architecture
    if fidelity is None:
        return "pruned while training" if trial.state.name == "PRUNED" else trial.state.name.lower()
    rung = attrs.get("ladder_rung")
    return f"rung {rung} ({fidelity})" if rung is not None else str(fidelity)


def _retrain(row: FamilyRow, arch: Architecture, evaluator: Evaluator, seeds: list[int],
             cache: _RetrainCache, task: Any, log: Any) -> None:
    metric = task.metric
    for seed in seeds:
        record = cache.get(row.name, arch.key, seed)
        if record is not None and record["name"] != row.name:
            # e.g. the search's best is a baseline itself: one network, one recipe, one seed
            log(f"  {row.name} seed {seed}: the same network as {record['name']}; its retraining reused")
        if record is None:
            # A retraining can take many minutes: say what is running before it starts.
            log(f"  {row.name} seed {seed}: retraining ...")
            evaluator.seed = seed
            started = time.perf_counter()
            metrics = evaluator.evaluate(arch).metrics
            record = {"name": row.name, "arch_key": arch.key, "seed": seed,
                      "seconds": time.perf_counter() - started,
                      "metrics": {k: float(v) for k, v in metrics.items()}}
            cache.add(record)
        m = record["metrics"]
        row.seeds.append(seed)
        row.test.append(m[f"test_{metric}"])
        row.val.append(m.get(f"val_{metric}", math.nan))
        row.retrain_seconds += record["seconds"]
        row.params = int(m["params"]) if "params" in m else row.params
        row.flops = m.get("flops", row.flops)
        unit = metric_unit(metric)
        log(f"  {row.name} seed {seed}: test {metric} "
            f"{m[f'test_{metric}'] * unit.scale:.{2 if unit.label else 3}f}{unit.label and ' ' + unit.label}"
            f" ({record['seconds']:.0f} s)")


class _RetrainCache:
    """``retrain.jsonl``: one line per finished retraining, keyed by row, arch, seed, recipe."""

    def __init__(self, path: Path, recipe: str) -> None:
        self.path = path
        self.recipe = recipe
        self.records: dict[tuple[str, str, int], dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a killed process: that run is redone
                if record.get("recipe") == recipe:
                    self.records[(record["name"], record["arch_key"], int(record["seed"]))] = record

    def get(self, name: str, arch_key: str, seed: int) -> dict[str, Any] | None:
        """The row's own record, else another row's of the same network and seed: arch, seed
        and recipe fix a retraining (on CPU exactly), so a second run would only repeat it."""
        own = self.records.get((name, arch_key, seed))
        if own is not None:
            return own
        return next((r for (_, key, s), r in self.records.items() if key == arch_key and s == seed),
                    None)

    def add(self, record: dict[str, Any]) -> None:
        record = {**record, "recipe": self.recipe}
        self.records[(record["name"], record["arch_key"], int(record["seed"]))] = record
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def _recipe_key(config: StudyConfig) -> str:
    """What a retraining depends on besides arch and seed: task and final evaluator."""
    return json.dumps({"task": [config.task.name, _thaw(config.task.params)],
                       "evaluator": [config.evaluator.name, _thaw(config.evaluator.params)]},
                      sort_keys=True, default=str)


def _thaw(value: Any) -> Any:
    if isinstance(value, (dict, FrozenDict)):
        return {k: _thaw(v) for k, v in value.items() if k != "data_dir"}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


def _describe(evaluator: Component) -> str:
    params = ", ".join(f"{k} {v}" for k, v in evaluator.params.items()
                       if k not in ("save_weights", "latency_repeats"))
    return f"{evaluator.name}: {params}" if params else evaluator.name


def _welch_half_width(a: list[float], b: list[float]) -> float:
    """Half width of the 95% Welch t-interval of mean(a) - mean(b); nan below 2 seeds each."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    from scipy import stats

    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return 0.0
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return float(stats.t.ppf(0.975, dof) * se)


# -- the table -------------------------------------------------------------------

def format_table(result: FamilyResult) -> str:
    """The report for people: rows, margins over each baseline, the search cost."""
    unit = metric_unit(result.metric)
    digits = 1 if unit.label == "%" else 3
    label = f" ({unit.label})" if unit.label else ""
    better = "higher" if result.higher_is_better else "lower"
    lines = [f"{result.study} on {result.task}: {result.metric}{label}, {better} is "
             f"better; every row retrained by the same recipe ({result.recipe}) and seeds"]
    if result.latency_batch is not None:
        lines.append(f"latency: CPU, one thread, a batch of {result.latency_batch}, every row "
                     f"timed in turn, median of {LATENCY_ROUNDS} rounds")
    lines.append("")
    header = (f"{'':<12} {'val mean ± std':>16}  {'test mean ± std':>16}  {'params':>9}  "
              f"{'latency':>10}  {'retrain':>8}  test per seed")
    lines.append(header)
    for row in result.rows:
        shown = [v * unit.scale for v in row.test]
        val = f"{row.val_mean * unit.scale:.{digits}f} ± {row.val_std * unit.scale:.{digits}f}"
        mean = f"{row.mean * unit.scale:.{digits}f} ± {row.std * unit.scale:.{digits}f}"
        params = f"{row.params / 1e6:.3f}M" if row.params is not None else "-"
        latency = f"{row.latency_ms:.2f} ms" if row.latency_ms is not None else "-"
        per_seed = ", ".join(f"{v:.{digits}f}" for v in shown)
        lines.append(f"{row.name:<12} {val:>16}  {mean:>16}  {params:>9}  {latency:>10}  "
                     f"{row.retrain_seconds:>7.0f}s  [{per_seed}]")
    searched = result.rows[0] if result.rows and result.rows[0].kind == "searched" else None
    if searched is not None:
        lines += ["", "margins on test (searched minus baseline, + when the searched model is "
                      "better; params and latency as searched / baseline):"]
        for row in result.rows[1:]:
            diff, half = result.margin(row)
            interval = f" ± {half * unit.scale:.{digits}f} (95% Welch)" if not math.isnan(half) else ""
            ratio = ""
            if row.latency_ms and searched.latency_ms:
                ratio = f"; latency {searched.latency_ms / row.latency_ms:.2f}x"
            params = ""
            if row.params and searched.params:
                params = f"; params {searched.params / row.params:.2f}x"
            lines.append(f"  vs {row.name}: {diff * unit.scale:+.{digits}f}{interval}"
                         f"{' points' if unit.label == '%' else ''}{params}{ratio}")
    if result.cost is not None:
        cost = result.cost
        trials = ", ".join(f"{n} {state}" for state, n in sorted(cost.trials.items()))
        stops = ", ".join(f"{n} at {where}" for where, n in sorted(cost.fidelity.items()))
        load = (f"; load average {cost.load_average:.1f} (15 min, at its end)"
                if cost.load_average is not None else "")
        lines += ["", f"search cost: {cost.wall_seconds:.0f} s wall ({cost.wall_seconds / 60:.1f} "
                  f"min) on {os.cpu_count()} cores{load}; {sum(cost.trials.values())} trials "
                  f"({trials}); where each trial stopped: {stops}; best trial #{cost.best_trial}"]
        if len(cost.finalists) > 1:
            scale = unit.scale
            ranked = ", ".join(f"#{f['trial']} {f['val_mean'] * scale:.{digits}f}"
                               f"{' (picked)' if f['picked'] else ''}" for f in cost.finalists)
            lines.append(f"finalists, retrained with the same seeds and picked by mean validation "
                         f"{result.metric}: {ranked}; the others' retraining: "
                         f"{cost.finalist_seconds:.0f} s (search cost too)")
    return "\n".join(lines)
