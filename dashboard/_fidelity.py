"""Rank agreement between cheap scores and trained accuracy, per pair of scores.

A zero-cost proxy or a supernet score is worth what its ranking agrees with
training; Spearman's rho and Kendall's tau are the usual measures in the NAS
literature (e.g. Abdelfattah et al. 2021 for proxies, Yu et al. 2020 for
weight sharing). Trials are grouped by architecture key, so scores written by
different trials of the same architecture (a fidelity ladder) line up.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

__all__ = ["score_columns", "default_scores", "scores_by_architecture", "rank_agreement"]

_KNOWN = ("supernet_val_accuracy", "val_accuracy", "test_accuracy", "tabular_val_accuracy")
_NOT_SCORES = {"trial_id", "number", "duration_s", "eval_seconds", "worker", "seed", "epochs",
               "hypervolume"}


def score_columns(trials: pd.DataFrame) -> list[str]:
    """Numeric result columns that could be compared (choices and bookkeeping excluded)."""
    columns = []
    for column in trials.columns:
        if column in _NOT_SCORES or column.startswith("param_"):
            continue
        values = pd.to_numeric(trials[column], errors="coerce")
        if values.notna().sum() >= 3 and values.nunique() > 1 and trials[column].dtype != bool:
            columns.append(column)
    return columns


def default_scores(columns: list[str]) -> list[str]:
    """Proxy scores, the supernet score and trained accuracies, when present."""
    chosen = [c for c in columns if c.startswith("proxy_")]
    chosen += [c for c in _KNOWN if c in columns]
    return chosen or columns[:3]


def scores_by_architecture(trials: pd.DataFrame, scores: list[str]) -> pd.DataFrame:
    """One row per architecture with the first recorded value of each score."""
    done = trials[trials.state == "COMPLETE"]
    frame = done[scores].apply(pd.to_numeric, errors="coerce")
    key = done["arch_key"] if "arch_key" in done else done["number"]
    return frame.groupby(key.to_numpy()).first().dropna(how="all")


def rank_agreement(by_arch: pd.DataFrame) -> pd.DataFrame:
    """Spearman rho and Kendall tau (with the count) for each pair of score columns."""
    from scipy.stats import kendalltau, spearmanr

    rows = []
    for a, b in combinations(by_arch.columns, 2):
        both = by_arch[[a, b]].dropna()
        if len(both) < 3:
            rows.append({"score A": a, "score B": b, "architectures": len(both),
                         "spearman": np.nan, "kendall": np.nan})
            continue
        rows.append({"score A": a, "score B": b, "architectures": len(both),
                     "spearman": float(spearmanr(both[a], both[b]).statistic),
                     "kendall": float(kendalltau(both[a], both[b]).statistic)})
    return pd.DataFrame(rows, columns=["score A", "score B", "architectures", "spearman", "kendall"])
