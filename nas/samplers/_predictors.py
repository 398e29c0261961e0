"""Predictors of the model-guided samplers: bootstrap ensembles and an exact GP.

Every fitted predictor's ``predict(x)`` returns ``(mean, spread)``; the spread
is what an upper-confidence acquisition adds to the mean.

>>> model = fit_ensemble("gp", features, targets, 1, np.random.default_rng(0))  # doctest: +SKIP
>>> mean, spread = model.predict(candidates)                                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PREDICTORS", "fit_ensemble", "gaussian_copula"]

#: predictor kinds: bootstrap ensembles whose spread is the uncertainty, or a GP
PREDICTORS = ("gbm", "rf", "ridge", "gp")


def fit_ensemble(
    kind: str, features: np.ndarray, targets: np.ndarray, size: int, rng: np.random.Generator
) -> Any:
    """A fitted predictor of ``kind`` whose ``predict(x)`` returns ``(mean, spread)``.

    ``gbm``, ``rf`` and ``ridge`` are scikit-learn bootstrap ensembles of
    ``size`` members (the spread is their standard deviation); ``gp`` is a
    Gaussian process with an RBF kernel whose length scale is picked by
    marginal likelihood (the spread is the posterior standard deviation).
    """
    if kind == "gp":
        return _GaussianProcess().fit(features, targets)
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import Ridge

    n = len(targets)
    if kind == "rf":
        forest = RandomForestRegressor(
            n_estimators=10 * size, max_features=0.5, min_samples_leaf=1,
            random_state=int(rng.integers(2**31)), n_jobs=1,
        ).fit(features, targets)
        return _Ensemble(list(forest.estimators_))
    members = []
    for _ in range(size):
        rows = rng.integers(n, size=n) if size > 1 else np.arange(n)
        if kind == "gbm":
            model = GradientBoostingRegressor(
                n_estimators=60, max_depth=3, learning_rate=0.15,
                random_state=int(rng.integers(2**31)),
            )
        else:
            model = Ridge(alpha=1.0)
        members.append(model.fit(features[rows], targets[rows]))
    return _Ensemble(members)


def gaussian_copula(values: np.ndarray) -> np.ndarray:
    """Ranks mapped to standard-normal quantiles (ties share their mean rank).

    A predictor fitted on these sees the order of the trials, not their scale:
    a few collapsed architectures (10% accuracy) no longer flatten the
    differences among the good ones, which are what the search must resolve.
    """
    from scipy.stats import norm, rankdata

    values = np.asarray(values, dtype=float)
    return norm.ppf((rankdata(values) - 0.5) / len(values))


class _Ensemble:
    def __init__(self, members: list[Any]) -> None:
        self.members = members

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        predictions = np.stack([m.predict(features) for m in self.members])
        return predictions.mean(axis=0), predictions.std(axis=0)


class _GaussianProcess:
    """Exact GP regression on standardised targets (numpy only; n is a few hundred)."""

    LENGTH_SCALES = (1.0, 2.0, 3.0, 4.0, 6.0)
    NOISE = 0.05

    def fit(self, features: np.ndarray, targets: np.ndarray) -> _GaussianProcess:
        self.x_ = np.asarray(features, dtype=np.float64)
        self.offset_, self.scale_ = float(targets.mean()), float(targets.std()) or 1.0
        z = (targets - self.offset_) / self.scale_
        distances = _squared_distances(self.x_, self.x_)
        best = None
        for length in self.LENGTH_SCALES:
            kernel = np.exp(-distances / (2 * length**2)) + self.NOISE * np.eye(len(z))
            chol = np.linalg.cholesky(kernel)
            alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, z))
            evidence = -0.5 * z @ alpha - np.log(np.diag(chol)).sum()
            if best is None or evidence > best[0]:
                best = (evidence, length, chol, alpha)
        _, self.length_, self.chol_, self.alpha_ = best
        return self

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.linalg import solve_triangular

        cross = np.exp(-_squared_distances(np.asarray(features, dtype=np.float64), self.x_)
                       / (2 * self.length_**2))
        mean = cross @ self.alpha_
        v = solve_triangular(self.chol_, cross.T, lower=True, check_finite=False)
        variance = np.clip(1.0 - (v * v).sum(axis=0), 1e-12, None)
        return mean * self.scale_ + self.offset_, np.sqrt(variance) * self.scale_


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0.0)
