"""Every ensemble of already-scored proxies on NAS-Bench-201 CIFAR-10: Spearman and Kendall.

Reads ``OUT/scores.jsonl`` as written by ``benchmarks/proxy_correlation.py``
(same ``--n-archs``/``--seed``/``--batch-seed``; nothing is scored here),
and for every subset of ``--proxies`` (two or more) and every rule (rank
average, majority vote, log-rank sum) reports the correlation of the combined
score with CIFAR-10 test accuracy, on the sampled architectures that every
member scored. ``--named NAME=rule:p1+p2+...`` adds fixed ensembles, e.g. the
VKDNW paper's aggregate. Writes ``OUT/ensembles.csv`` (all rows) and prints
the single proxies, the named ensembles and the best ``--top`` subsets.

The best of hundreds of subsets is an optimistic estimate (it was picked on
the data it is judged on), so each row also gives Spearman on the two halves
of the sample (A: its first half, B: the rest), and the script names the
ensemble that is best on half A alone with its Spearman on half B.

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
from typing import NamedTuple

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

    half = set(rows[:len(rows) // 2])

    def evaluate(label: str, rule: str, members: tuple[str, ...]) -> Row:
        common = [r for r in rows if all(m in scores.get(r, {}) for m in members)]
        columns = {m: [scores[r][m] for r in common] for m in members}
        combined = columns[members[0]] if rule == "single" else RULES[rule](columns)
        values = np.array([_finite(v) for v in combined], dtype=float)
        rho, tau = _correlate(values, accuracy[common])
        in_a = np.array([r in half for r in common])
        # Ranks within each half: an ensemble's score is relative to the population it ranks.
        rho_a = rho_b = float("nan")
        if in_a.sum() > 2 and (~in_a).sum() > 2:
            part = {m: [v for v, a in zip(columns[m], in_a) if a] for m in members}
            rest = {m: [v for v, a in zip(columns[m], in_a) if not a] for m in members}
            for which, cols, mask in (("a", part, in_a), ("b", rest, ~in_a)):
                sub = cols[members[0]] if rule == "single" else RULES[rule](cols)
                r = _correlate(np.array([_finite(v) for v in sub], dtype=float),
                               accuracy[np.array(common)[mask]])[0]
                rho_a, rho_b = (r, rho_b) if which == "a" else (rho_a, r)
        return Row(label, rho, tau, len(common), rho_a, rho_b)

    singles = [evaluate(p, "single", (p,)) for p in args.proxies]
    named = []
    for spec in args.named:
        name, _, rest = spec.partition("=")
        rule, _, members = rest.partition(":")
        named.append(evaluate(f"{name} = {rule}({members})", rule, tuple(members.split("+"))))
    subsets = [evaluate(f"{rule}({'+'.join(subset)})", rule, subset)
               for size in range(2, len(args.proxies) + 1)
               for subset in itertools.combinations(args.proxies, size) for rule in RULES]
    subsets.sort(key=lambda row: -row.spearman)

    with open(Path(args.out) / "ensembles.csv", "w", encoding="utf-8") as handle:
        handle.write("ensemble,spearman,kendall,n,spearman_half_a,spearman_half_b\n")
        for row in singles + named + subsets:
            handle.write(f"\"{row.label}\",{row.spearman:.4f},{row.kendall:.4f},{row.n},"
                         f"{row.spearman_a:.4f},{row.spearman_b:.4f}\n")
    print("| proxy or ensemble | spearman | kendall | n | spearman half A | half B |\n"
          "|---|---|---|---|---|---|")
    for row in singles + named + subsets[:args.top]:
        print(f"| {row.label} | {row.spearman:.3f} | {row.kendall:.3f} | {row.n} "
              f"| {row.spearman_a:.3f} | {row.spearman_b:.3f} |")
    picked = max(subsets, key=lambda row: -np.inf if np.isnan(row.spearman_a) else row.spearman_a)
    print(f"\nbest on half A alone: {picked.label} (A {picked.spearman_a:.3f}; "
          f"held-out half B {picked.spearman_b:.3f})")
    print(f"{len(subsets)} subset ensembles in {Path(args.out) / 'ensembles.csv'}")


class Row(NamedTuple):
    label: str
    spearman: float
    kendall: float
    n: int
    spearman_a: float
    spearman_b: float


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
