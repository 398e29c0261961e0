"""Retrain one network by a study file's final recipe with several seeds; print mean ± std.

A stand-in for ``nas bench family`` while that command is not on this branch: the
network is one of the space's hand-designed baselines (``--baseline resnet20``), an
architecture (``--arch '{"s1_depth": 2, ...}'``) or the best full-fidelity trial of a
finished search (``--best-of runs/resnet/study.db``). The recipe is the study's final
evaluator (a ladder's last rung, a ``train`` evaluator), so baseline and searched
networks train identically. Each finished run is appended to ``OUT/retrain.jsonl``;
a rerun skips the (name, arch, seed) runs already there.

    OMP_NUM_THREADS=2 python benchmarks/cnn_retrain.py studies/resnet_cifar10.toml \\
        --baseline resnet20 --seeds 0 1 --out runs/resnet
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from nas.config import Component, FrozenDict, StudyConfig, load_study_file
from nas.search.worker import build_components


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--baseline", help="a baseline of the study's space, e.g. resnet20")
    which.add_argument("--arch", help="an architecture as JSON")
    which.add_argument("--best-of", help="a SQLite file holding the finished search")
    parser.add_argument("--study-name", help="with --best-of: the searched study's name "
                        "(default: the study file's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=Path("runs/cnn-retrain"))
    parser.add_argument("--data-dir", default=os.environ.get("NAS_DATA_DIR"))
    args = parser.parse_args()

    config = load_study_file(args.study).with_overrides(data_dir=args.data_dir)
    config = _final(config)
    name = "searched"
    if args.baseline:
        name = args.baseline
        params = {k: v for k, v in config.space.params.items() if k != "start_from"}
        config = replace(config, space=Component(config.space.name,
                                                 FrozenDict({**params, "baseline": name})))
    space, _task, evaluator = build_components(config, "cpu")
    if args.baseline:
        arch = space.default()
    elif args.arch:
        arch = space.validate(json.loads(args.arch))
    else:
        study_name = args.study_name or load_study_file(args.study).name
        arch = space.validate(_best_arch(args.best_of, study_name))
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "retrain.jsonl"
    done = {(r["name"], r["arch_key"], r["seed"]): r for r in map(json.loads, _lines(log))}
    print(f"{name}: {dict(arch)}")
    tests = []
    for seed in args.seeds:
        record = done.get((name, arch.key, seed))
        if record is None:
            evaluator.seed = seed
            started = time.perf_counter()
            metrics = evaluator.evaluate(arch).metrics
            record = {"name": name, "arch_key": arch.key, "arch": dict(arch), "seed": seed,
                      "seconds": round(time.perf_counter() - started, 1),
                      "load_average": os.getloadavg()[0],
                      "metrics": {k: float(v) for k, v in metrics.items()}}
            with log.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
        m = record["metrics"]
        tests.append(m["test_accuracy"])
        print(f"  seed {seed}: test {100 * m['test_accuracy']:.2f}%  val "
              f"{100 * m['val_accuracy']:.2f}%  params {int(m['params']):,}  latency "
              f"{m['latency_ms']:.1f} ms  {record['seconds']:.0f} s  load {record['load_average']:.1f}")
    std = statistics.stdev(tests) if len(tests) > 1 else 0.0
    print(f"{name}: test {100 * statistics.fmean(tests):.2f} ± {100 * std:.2f}% over "
          f"{len(tests)} seed(s) {args.seeds}")


def _final(config: StudyConfig) -> StudyConfig:
    """The study with its final evaluator (a ladder's last rung) as the only evaluator."""
    evaluator = config.evaluator
    if evaluator.name == "ladder":
        last = evaluator.params["rungs"][-1]
        evaluator = Component(last["evaluator"], FrozenDict(last.get("params", {})))
    return replace(config, evaluator=evaluator)


def _best_arch(path: str, study_name: str) -> dict[str, Any]:
    import optuna

    study = optuna.load_study(study_name=study_name, storage=f"sqlite:///{path}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(done, key=lambda t: t.values[0])
    print(f"best trial #{best.number}: val {best.values[0]:.4f}")
    return dict(best.user_attrs["arch"])


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


if __name__ == "__main__":
    main()
