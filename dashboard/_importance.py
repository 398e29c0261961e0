"""Choice importance with Optuna's fANOVA evaluator, on trials rebuilt from the read-only store.

fANOVA (Hutter et al. 2014) fits a random forest from choices to an objective
and splits its variance by choice. Optuna's evaluator needs a ``Study``; we
rebuild complete trials into an in-memory study (no write to the store) from
the decoded ``param_*`` columns and the stored distributions. Optuna is
imported here, lazily, and pulls no torch.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

__all__ = ["choice_importance", "MAX_TRIALS"]

# fANOVA's forest costs grow with trials; the latest few hundred show the picture.
MAX_TRIALS = 500


def choice_importance(
    complete: pd.DataFrame, objective: str, distributions: dict[str, dict[str, Any]], seed: int = 0
) -> pd.Series:
    """Importance (sums to 1) of each choice for ``objective``, highest first."""
    import optuna
    from optuna.distributions import json_to_distribution
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    rows = complete.dropna(subset=[objective]).sort_values("number").tail(MAX_TRIALS)
    decoded = {name: json_to_distribution(json.dumps(d)) for name, d in distributions.items()}
    trials = []
    for _, row in rows.iterrows():
        params = {name: _native(row[f"param_{name}"]) for name in decoded
                  if f"param_{name}" in row.index and pd.notna(row[f"param_{name}"])}
        trials.append(optuna.trial.create_trial(
            params=params, distributions={n: decoded[n] for n in params},
            value=float(row[objective]),
        ))
    study = optuna.create_study(direction="minimize")  # in memory; direction is irrelevant here
    study.add_trials(trials)
    importances = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))
    return pd.Series(importances, name="importance").sort_values(ascending=False)


def _native(value: Any) -> Any:
    """numpy scalars to Python, so Optuna's distributions accept them."""
    return value.item() if hasattr(value, "item") else value
