"""Searched against hand-designed for ``charlm``: the same final recipe, steps and seeds for both.

Reads a study file, takes its **final** evaluator (a ``train`` evaluator, or
the last rung of a ``ladder``) and trains with it, for every seed:

* the search's best architecture: the complete trial with the lowest
  validation bits per character in the study's store (``--storage``), or an
  architecture given as JSON choices (``--arch``, over the study's defaults;
  printed as "given");
* each hand-designed preset of the space (``baselines``, e.g. ``nanogpt-cpu``),
  built from the study's space with the preset's choices.

Prints every seed, then mean ± std of validation and test bpc per model and
the margin (baseline minus searched, bits) on validation. Seeds are the
evaluator's seeds: ``--first-seed .. + --seeds - 1``. One JSON line per run is
appended to ``--log`` as it finishes, so an interrupted run keeps what it did.
Stand-in for ``nas bench family STUDY --seeds 5`` until that command exists.

    nas search studies/charlm_nanogpt.toml --storage sqlite:////tmp/charlm.db
    python benchmarks/charlm_baseline.py studies/charlm_nanogpt.toml \\
        --storage sqlite:////tmp/charlm.db --seeds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study_file")
    parser.add_argument("--storage", default=None, help="store of the study's search (its best trial)")
    parser.add_argument("--arch", default=None, help="searched arch as JSON choices instead of a store")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--only", choices=("searched", "baselines"), default=None)
    parser.add_argument("--log", default=None, help="append one JSON line per run to this file")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    import torch

    from nas.config import load_study_file
    from nas.evaluators import EVALUATORS
    from nas.tasks import create_task
    from search_spaces import create_space

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    config = load_study_file(args.study_file)
    if config.space.name != "charlm":
        sys.exit(f"{args.study_file} searches space '{config.space.name}', not charlm")
    evaluator_name, evaluator_params = _final_evaluator(config)
    task_params = dict(config.task.params)
    if args.data_dir:
        task_params["data_dir"] = args.data_dir
    choices = dict(config.space.params)
    space = create_space("charlm", choices)

    # an architecture given on the command line is no search result: it is labelled "given"
    first = "searched" if args.arch is None else "given"
    rows: list[tuple[str, object, dict]] = []
    if args.only != "baselines":
        rows.append((first, space, _searched_arch(args, config, space)))
    if args.only != "searched":
        for name in space.baselines:
            preset = create_space("charlm", {**choices, "baseline": name})
            rows.append((name, preset, preset.validate({**preset.default(), **space.baseline(name)})))

    print(f"{args.study_file}: task {config.task.name} {task_params}; final evaluator "
          f"{evaluator_name} {evaluator_params}; seeds {args.first_seed}.."
          f"{args.first_seed + args.seeds - 1}; load average {os.getloadavg()[0]:.1f}", flush=True)
    results: dict[str, list[dict]] = {}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for label, row_space, arch in rows:
            task = create_task(config.task.name, seed=seed, **task_params)
            evaluator = EVALUATORS.get(evaluator_name)(row_space, task, {**evaluator_params,
                                                                         "save_weights": False},
                                                       device="cpu", seed=seed)
            start = time.perf_counter()
            metrics = evaluator.evaluate(arch).metrics
            record = {"model": label, "seed": seed, "val_bpc": metrics["val_bpc"],
                      "test_bpc": metrics["test_bpc"], "val_loss": metrics["val_loss"],
                      "params": int(metrics["params"]), "seconds": time.perf_counter() - start,
                      "load": os.getloadavg()[0], "arch": _active(arch)}
            results.setdefault(label, []).append(record)
            print(f"{label:<12} seed {seed}: val {record['val_bpc']:.4f} bpc "
                  f"({record['val_loss']:.4f} nats), test {record['test_bpc']:.4f}, "
                  f"{record['params']:,} params, {record['seconds']:.0f} s, "
                  f"load {record['load']:.1f}", flush=True)
            if args.log:
                with open(args.log, "a") as log:
                    log.write(json.dumps({"study_file": args.study_file, **record}) + "\n")
    print(f"{'model':<12} {'val bpc':>17} {'test bpc':>17} {'params':>10} {'seeds':>5}")
    for label, records in results.items():
        print(f"{label:<12} {_mean_std([r['val_bpc'] for r in records]):>17} "
              f"{_mean_std([r['test_bpc'] for r in records]):>17} {records[0]['params']:>10,} "
              f"{len(records):>5}")
    if first in results:
        searched = statistics.fmean(r["val_bpc"] for r in results[first])
        for label, records in results.items():
            if label != first:
                margin = statistics.fmean(r["val_bpc"] for r in records) - searched
                print(f"{first} beats {label} by {margin:+.4f} bpc on validation")
        print(f"{first} arch: {json.dumps(results[first][0]['arch'])}")


def _final_evaluator(config):  # type: ignore[no-untyped-def]
    evaluator = config.evaluator
    if evaluator.name == "ladder":
        last = evaluator.params["rungs"][-1]
        return str(last["evaluator"]), dict(last.get("params") or {})
    return evaluator.name, dict(evaluator.params)


def _searched_arch(args, config, space):  # type: ignore[no-untyped-def]
    if args.arch is not None:
        return space.validate({**space.default(), **json.loads(args.arch)})
    import optuna

    from nas.search.study import load_study, storage_for
    from nas.store import resolve_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = load_study(config.name, storage_for(resolve_url(args.storage)))
    complete = [t for t in study.get_trials(deepcopy=False)
                if t.state == optuna.trial.TrialState.COMPLETE and "metrics" in t.user_attrs]
    if not complete:
        sys.exit(f"study '{config.name}' has no complete trials yet")
    best = min(complete, key=lambda t: t.user_attrs["metrics"]["val_bpc"])
    return space.validate(best.user_attrs["arch"])


def _active(arch):  # type: ignore[no-untyped-def]
    layers = int(arch["num_layers"])
    return {k: v for k, v in arch.items()
            if not k.startswith("layer") or int(k[5:].split("_")[0]) <= layers}


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {spread:.4f}"


if __name__ == "__main__":
    main()
