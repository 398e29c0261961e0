"""Ensembles of proxies over a population: rank average and majority vote (Abdelfattah et al. 2021),
and the sum of log-ranks (Lee & Ham 2024, AZ-NAS; Tybl & Neumann 2025, VKDNW_agg).

A single proxy score means little on its own; ranked against other
architectures' scores it does. Both rules take ``{proxy: scores}`` with one
score per architecture (same order in every list) and return one combined
score per architecture, higher = better. ``None`` and non-finite scores rank
lowest.

>>> rank_average({"a": [1.0, 3.0, 2.0], "b": [10.0, 30.0, 20.0]}).tolist()
[0.0, 1.0, 0.5]
>>> majority_vote({"a": [1, 2, 3], "b": [1, 2, 3], "c": [3, 2, 1]}).tolist()
[0.0, 1.0, 2.0]
>>> log_rank_sum({"a": [1.0, 3.0, 2.0], "b": [10.0, 20.0, 30.0]}).round(3).tolist()
[-2.197, -0.405, -0.405]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["rank_average", "majority_vote", "log_rank_sum", "rank_average_share", "majority_vote_share",
           "log_rank_sum_share", "share_of", "combine", "ranks", "ENSEMBLES", "NamedEnsemble", "NAMED_ENSEMBLES"]

#: ensemble rule names the ``proxy`` evaluator accepts
ENSEMBLES = ("rank_average", "majority_vote", "log_rank_sum")


@dataclass(frozen=True)
class NamedEnsemble:
    """A rule over a fixed set of proxies, chosen by name (``ensemble = "<name>"`` in a study)."""

    rule: str
    proxies: tuple[str, ...]
    #: where the choice comes from and what it measured
    evidence: str


#: ensembles selectable by name; ``proxies`` may then be left out of the evaluator's params
NAMED_ENSEMBLES: dict[str, NamedEnsemble] = {
    "vkdnw_meco_jacob_flops": NamedEnsemble(
        "log_rank_sum", ("jacob_cov", "meco", "flops", "vkdnw"),
        "NB201 CIFAR-10, 1,000 archs (seed 0, batch seed 0): Spearman 0.940, Kendall 0.785; best "
        "of 741 subset x rule ensembles, and best on half the sample alone (0.938) with 0.937 on "
        "the other half. benchmarks/proxy_ensembles.py"),
    "az_nas": NamedEnsemble(
        "log_rank_sum", ("az_expressivity", "az_progressivity", "az_trainability", "flops"),
        "AZ-NAS as published (Lee & Ham 2024: Spearman 0.913, Kendall 0.741 on NB201 CIFAR-10), "
        "but here NB201 CIFAR-10, 200 archs (seed 0, batch seed 0) give only Spearman 0.661, Kendall "
        "0.484: our az_progressivity ranks backwards (-0.323; it reads weight-layer outputs, the "
        "authors cell outputs); without it 0.857, and with expressivity and progressivity from "
        "cell outputs (an unregistered diagnostic) 0.899, Kendall 0.725. Components: expressivity "
        "0.808, trainability 0.384, flops 0.791. benchmarks/proxy_ensembles.py"),
}


def ranks(values: Sequence[float | None]) -> np.ndarray:
    """Ranks scaled to [0, 1] (ties share their mean rank; None/NaN/inf-less values lowest)."""
    x = np.array([-np.inf if v is None or np.isnan(v) else float(v) for v in values], dtype=float)
    n = len(x)
    if n == 0:
        return np.zeros(0)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    result = np.empty(n)
    start = 0
    for end in range(1, n + 1):  # average rank over each run of ties
        if end == n or sorted_x[end] != sorted_x[start]:
            result[order[start:end]] = (start + end - 1) / 2
            start = end
    return result / max(1, n - 1)


def rank_average(scores: Mapping[str, Sequence[float | None]]) -> np.ndarray:
    """Mean over proxies of each architecture's rank (Abdelfattah et al. 2021, Sec. 5)."""
    _check(scores)
    return np.mean([ranks(v) for v in scores.values()], axis=0)


def majority_vote(scores: Mapping[str, Sequence[float | None]]) -> np.ndarray:
    """Copeland score of the proxies' pairwise majority vote (Abdelfattah et al. 2021, Sec. 5).

    Architecture ``i`` beats ``j`` when more proxies rank ``i`` above ``j``
    than below it (a tie counts half); the score is the number of wins.
    """
    _check(scores)
    rank_rows = np.array([ranks(v) for v in scores.values()])  # (proxies, archs)
    votes = np.zeros((rank_rows.shape[1], rank_rows.shape[1]))
    for row in rank_rows:
        votes += np.sign(row[:, None] - row[None, :])
    wins = (votes > 0) + 0.5 * (votes == 0)
    np.fill_diagonal(wins, 0.0)
    return wins.sum(axis=1)


def log_rank_sum(scores: Mapping[str, Sequence[float | None]]) -> np.ndarray:
    """Sum over proxies of ``log(rank / n)``, ranks 1..n (Lee & Ham 2024, AZ-NAS, Eq. 9).

    Unlike the rank average, a low rank on any one proxy pulls an architecture
    down hard (``log`` of a small share), so it favours nets no proxy dislikes.
    """
    _check(scores)
    n = len(next(iter(scores.values())))
    return np.sum([np.log((ranks(v) * max(1, n - 1) + 1) / n) for v in scores.values()], axis=0)


def _check(scores: Mapping[str, Sequence[float | None]]) -> None:
    if not scores:
        raise ValueError("an ensemble needs at least one proxy")
    lengths = {len(v) for v in scores.values()}
    if len(lengths) != 1:
        raise ValueError(f"every proxy needs one score per architecture; got lengths {sorted(lengths)}")


def rank_average_share(scores: Mapping[str, Sequence[float | None]], index: int) -> float:
    """Architecture ``index``'s rank average in [0, 1] among the population ``scores``."""
    return float(rank_average(scores)[index])


def majority_vote_share(scores: Mapping[str, Sequence[float | None]], index: int) -> float:
    """The share of the other architectures that ``index`` beats by majority vote (ties half).

    One row of :func:`majority_vote`, divided by ``n - 1``: O(n) rather than O(n²).
    """
    _check(scores)
    rank_rows = np.array([ranks(v) for v in scores.values()])
    votes = np.sign(rank_rows[:, index][:, None] - rank_rows).sum(axis=0)
    wins = (votes > 0) + 0.5 * (votes == 0)
    wins[index] = 0.0
    return float(wins.sum() / max(1, rank_rows.shape[1] - 1))


def log_rank_sum_share(scores: Mapping[str, Sequence[float | None]], index: int) -> float:
    """Architecture ``index``'s rank in [0, 1] by :func:`log_rank_sum` among ``scores``."""
    return float(ranks(log_rank_sum(scores).tolist())[index])


def combine(rule: str, scores: Mapping[str, Sequence[float | None]]) -> np.ndarray:
    """Every architecture's ensemble value (higher is better) under the :data:`ENSEMBLES`
    rule ``rule``."""
    rules = {"rank_average": rank_average, "majority_vote": majority_vote,
             "log_rank_sum": log_rank_sum}
    if rule not in rules:
        raise ValueError(f"unknown ensemble rule '{rule}'; known: {', '.join(ENSEMBLES)}")
    return np.asarray(rules[rule](scores), dtype=np.float64)


def share_of(rule: str, scores: Mapping[str, Sequence[float | None]], index: int) -> float:
    """Architecture ``index``'s share in [0, 1] under the :data:`ENSEMBLES` rule ``rule``."""
    shares = {"rank_average": rank_average_share, "majority_vote": majority_vote_share,
              "log_rank_sum": log_rank_sum_share}
    if rule not in shares:
        raise ValueError(f"unknown ensemble rule '{rule}'; known: {', '.join(ENSEMBLES)}")
    return shares[rule](scores, index)
