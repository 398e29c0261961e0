"""Does a `charlm` search beat a hand-picked 2-layer transformer trained with the same budget?

Reads a finished study (by default ``charlm-shakespeare``, from
``studies/charlm_shakespeare.toml``), takes its complete trial with the lowest
validation bits per character, and trains a 2-layer baseline (the space's
default layer shape: model dim 128, 4 heads, FFN 256) with exactly the study's
task and evaluator settings (same steps, batch, learning rate, epochs). To
take seed luck out of the comparison it also retrains the search's best
architecture with the baseline's seed. Prints all three.

    nas search studies/charlm_shakespeare.toml --storage sqlite:////tmp/charlm.db
    python benchmarks/charlm_baseline.py --storage sqlite:////tmp/charlm.db
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="charlm-shakespeare")
    parser.add_argument("--storage", default=None, help="study database URL (default: $NAS_STORAGE)")
    parser.add_argument("--baseline", default=None,
                        help="baseline arch as JSON choices over the space's default "
                             "(default: {\"num_layers\": 2})")
    args = parser.parse_args()

    import optuna
    import torch

    from nas.config import config_from_study
    from nas.search.study import load_study, storage_for
    from nas.search.worker import build_components
    from nas.store import resolve_url
    from search_spaces import create_space

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = load_study(args.study, storage_for(resolve_url(args.storage)))
    config = config_from_study(study)
    if config.space.name != "charlm":
        sys.exit(f"study '{args.study}' searches space '{config.space.name}', not charlm")
    complete = [t for t in study.get_trials(deepcopy=False)
                if t.state == optuna.trial.TrialState.COMPLETE and "metrics" in t.user_attrs]
    if not complete:
        sys.exit(f"study '{args.study}' has no complete trials yet")
    best = min(complete, key=lambda t: t.user_attrs["metrics"]["val_bpc"])

    _space, _task, evaluator = build_components(config, "cpu")
    # The baseline is built from the full space: the study may have narrowed its choices.
    full_space = create_space("charlm")
    evaluator.space = full_space
    baseline = full_space.validate(
        full_space.default().replace(**json.loads(args.baseline or '{"num_layers": 2}'))
    )
    best_arch = full_space.validate(best.user_attrs["arch"])

    print(f"study '{args.study}': {len(complete)} complete trials; task {config.task.name} "
          f"{dict(config.task.params)}; evaluator {dict(config.evaluator.params)}")
    rows = [("search best (as trained in the study)", best_arch, best.user_attrs["metrics"],
             best.user_attrs.get("seed"), None)]
    for label, arch in (("2-layer baseline", baseline), ("search best, retrained", best_arch)):
        start = time.perf_counter()
        metrics = evaluator.evaluate(arch).metrics  # seed = the study's seed for both
        rows.append((label, arch, metrics, config.seed, time.perf_counter() - start))
    print(f"{'model':<38} {'val bpc':>8} {'params':>9} {'layers':>6} {'dim':>4} {'seed':>5} "
          f"{'train s':>8}")
    for label, arch, metrics, seed, seconds in rows:
        print(f"{label:<38} {metrics['val_bpc']:>8.4f} {int(metrics['params']):>9,} "
              f"{arch['num_layers']:>6} {arch['model_dim']:>4} {seed!s:>5} "
              f"{'' if seconds is None else f'{seconds:.1f}':>8}")
    baseline_bpc = rows[1][2]["val_bpc"]
    for label, _arch, metrics, _seed, _seconds in (rows[0], rows[2]):
        verdict = "beats" if metrics["val_bpc"] < baseline_bpc else "does NOT beat"
        print(f"{label} {verdict} the baseline by {baseline_bpc - metrics['val_bpc']:+.4f} bpc")
    print(f"best arch: {json.dumps(_active(best_arch))}")


def _active(arch):  # type: ignore[no-untyped-def]
    layers = int(arch["num_layers"])
    return {k: v for k, v in arch.items()
            if not k.startswith("layer") or int(k[5:].split("_")[0]) <= layers}


if __name__ == "__main__":
    main()
