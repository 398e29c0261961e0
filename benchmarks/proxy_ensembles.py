"""Every ensemble of already-scored proxies on NAS-Bench-201 CIFAR-10: Spearman and Kendall.

Reads ``OUT/scores.jsonl`` as written by ``benchmarks/proxy_correlation.py``
(same ``--n-archs``/``--seed``/``--batch-seed``; nothing is scored here),
and for every subset of ``--proxies`` (two or more) and every rule (rank
average, majority vote, log-rank sum) reports the correlation of the combined
score with CIFAR-10 test accuracy, on the sampled architectures that every
member scored. ``--named NAME=rule:p1+p2+...`` adds fixed ensembles, e.g. the
VKDNW paper's aggregate. Writes ``OUT/ensembles.csv`` (all rows) and prints
the single proxies, the named ensembles and the best ``--top`` subsets.

    python benchmarks/proxy_ensembles.py --out bench_out/vkdnw1000 \\
        --proxies synflow jacob_cov nwot meco vkdnw vkdnw_single flops \\
        --named vkdnw_agg=log_rank_sum:vkdnw_single+jacob_cov+az_expressivity+flops
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxies.ensembles import log_rank_sum, majority_vote, rank_average  # noqa: E402

RULES = {"rank_avg": rank_average, "vote": majority_vote, "log_rank_sum": log_rank_sum}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder holding scores.jsonl")
    parser.add_argument("--proxies", nargs="+", required=True)
    parser.add_argument("--named", nargs="*", default=[], help="NAME=rule:p1+p2")
    parser.add_argument("--n-archs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()

    from nas.tasks import create_task

    table = create_task("nb201-cifar10", data_dir=args.data_dir).table
    accuracy = np.asarray(table.columns["cifar10_test"], dtype=float)
    rows = [int(r) for r in np.random.default_rng(args.seed).permutation(len(table.arch))[:args.n_archs]]
    scores = _load(Path(args.out) / "scores.jsonl", args.seed, args.batch_seed)

    def evaluate(label: str, rule: str, members: tuple[str, ...]) -> tuple[str, float, float, int]:
        common = [r for r in rows if all(m in scores.get(r, {}) for m in members)]
        columns = {m: [scores[r][m] for r in common] for m in members}
        combined = columns[members[0]] if rule == "single" else RULES[rule](columns)
        rho, tau = _correlate(np.array([_finite(v) for v in combined], dtype=float), accuracy[common])
        return label, rho, tau, len(common)

    singles = [evaluate(p, "single", (p,)) for p in args.proxies]
    named = []
    for spec in args.named:
        name, _, rest = spec.partition("=")
        rule, _, members = rest.partition(":")
        named.append(evaluate(f"{name} = {rule}({members})", rule, tuple(members.split("+"))))
    subsets = [evaluate(f"{rule}({'+'.join(subset)})", rule, subset)
               for size in range(2, len(args.proxies) + 1)
               for subset in itertools.combinations(args.proxies, size) for rule in RULES]
    subsets.sort(key=lambda row: -row[1])

    with open(Path(args.out) / "ensembles.csv", "w", encoding="utf-8") as handle:
        handle.write("ensemble,spearman,kendall,n\n")
        for label, rho, tau, n in singles + named + subsets:
            handle.write(f"\"{label}\",{rho:.4f},{tau:.4f},{n}\n")
    print("| proxy or ensemble | spearman | kendall | n |\n|---|---|---|---|")
    for label, rho, tau, n in singles + named + subsets[:args.top]:
        print(f"| {label} | {rho:.3f} | {tau:.3f} | {n} |")
    print(f"\n{len(subsets)} subset ensembles in {Path(args.out) / 'ensembles.csv'}")


def _load(path: Path, seed: int, batch_seed: int) -> dict[int, dict[str, float | None]]:
    scores: dict[int, dict[str, float | None]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a killed run
            continue
        if record["seed"] == seed and record["batch_seed"] == batch_seed:
            entry = scores.setdefault(int(record["row"]), {})
            entry.update({name: value for name, (value, _) in record["scores"].items()})
    return scores


def _finite(value: float | None) -> float:
    return float("-inf") if value is None or not np.isfinite(value) else float(value)


def _correlate(x: np.ndarray, acc: np.ndarray) -> tuple[float, float]:
    """Missing (non-finite) scores tie below every finite one, as in nas.bench.proxies."""
    from scipy.stats import kendalltau, spearmanr

    finite = np.isfinite(x)
    floor = x[finite].min() - 1 if finite.any() else 0.0
    x = np.where(finite, x, floor)
    return float(spearmanr(x, acc)[0]), float(kendalltau(x, acc)[0])


if __name__ == "__main__":
    main()
