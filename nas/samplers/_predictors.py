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
#: (``ard``: a GP on the choices themselves, one relevance per choice; ``gp-scaled``:
#: the ``gp`` on features scaled to unit spread, for counts such as graph features),
#: or ``pairwise``: :class:`nas.predictors.PairwiseRanker` (no spread)
PREDICTORS = ("gbm", "rf", "ridge", "gp", "ard", "gp-scaled", "pairwise")


def fit_ensemble(
    kind: str, features: np.ndarray, targets: np.ndarray, size: int, rng: np.random.Generator
) -> Any:
    """A fitted predictor of ``kind`` whose ``predict(x)`` returns ``(mean, spread)``.

    ``gbm``, ``rf`` and ``ridge`` are scikit-learn bootstrap ensembles of
    ``size`` members (the spread is their standard deviation); ``gp`` is a
    Gaussian process with an RBF kernel whose length scale is picked by
    marginal likelihood (the spread is the posterior standard deviation);
    ``ard`` is a GP whose features are the choices themselves (see
    :class:`ChoiceGP`).
    """
    if kind == "gp":
        return _GaussianProcess().fit(features, targets)
    if kind == "gp-scaled":
        return _Scaled(_GaussianProcess()).fit(features, targets)
    if kind == "pairwise":
        from nas.predictors import PairwiseRanker

        ranker = PairwiseRanker(n_estimators=100, n_references=10,
                                random_state=int(rng.integers(2**31)))
        return _NoSpread(ranker.fit(features, targets))
    if kind == "ard":
        return ChoiceGP().fit(features, targets)
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


class _Scaled:
    """A predictor on features divided by their spread over the training rows."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, features: np.ndarray, targets: np.ndarray) -> _Scaled:
        x = np.asarray(features, dtype=np.float64)
        self.offset_, spread = x.mean(axis=0), x.std(axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        self.model.fit((x - self.offset_) / self.scale_, targets)
        return self

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.model.predict((np.asarray(features, dtype=np.float64) - self.offset_) / self.scale_)


class _NoSpread:
    """A ranker as a predictor: its scores as the mean, no spread (pure exploitation)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = np.asarray(self.model.predict(features), dtype=np.float64)
        return mean, np.zeros_like(mean)


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


class ChoiceGP:
    """GP on architectures as choice vectors: ``k(a, b) = exp(-sum_c w_c d_c(a, b))``.

    ``features`` hold one column per choice: an integer code for a
    categorical choice (``d_c`` = 1 when the two differ, the "overlap"
    kernel) or a value scaled to [0, 1] for a range (``d_c`` = the absolute
    difference), as the predictor-evolution sampler encodes choices. The relevance ``w_c`` of
    each choice and the noise are fitted by marginal likelihood (L-BFGS with
    the analytic gradient), so choices that decide the score (on
    NAS-Bench-201: the ops on the input->output edges) weigh most.
    """

    def fit(self, features: np.ndarray, targets: np.ndarray) -> ChoiceGP:
        from scipy.optimize import minimize

        self.x_ = np.asarray(features, dtype=np.float64)
        self.offset_, self.scale_ = float(targets.mean()), float(targets.std()) or 1.0
        z = (np.asarray(targets, dtype=np.float64) - self.offset_) / self.scale_
        # Integer codes above 1 are categorical; ranges lie in [0, 1], where two
        # categories (codes 0 and 1) give the same distance either way.
        self.categorical_ = np.all(np.mod(self.x_, 1.0) == 0, axis=0) & (self.x_.max(axis=0) > 1)
        differences = _choice_differences(self.x_, self.x_, self.categorical_)  # (n, n, choices)
        n, d = len(z), self.x_.shape[1]

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            weights, noise = np.exp(log_params[:d]), np.exp(log_params[d])
            signal = np.exp(-differences @ weights)
            try:
                chol = np.linalg.cholesky(signal + (noise + 1e-6) * np.eye(n))
            except np.linalg.LinAlgError:
                return 1e10, np.zeros(d + 1)
            inverse = _cho_inverse(chol)
            alpha = inverse @ z
            value = 0.5 * z @ alpha + np.log(np.diag(chol)).sum()
            inner = inverse - np.outer(alpha, alpha)  # d(value)/dK = inner / 2
            grad = np.empty(d + 1)
            for c in range(d):
                grad[c] = -0.5 * weights[c] * np.sum(inner * signal * differences[:, :, c])
            grad[d] = 0.5 * noise * np.trace(inner)
            return float(value), grad

        start = np.append(np.full(d, np.log(0.5)), np.log(0.05))
        bounds = [(-5.0, 3.0)] * d + [(np.log(1e-3), 0.0)]
        found = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                         options={"maxiter": 60})
        self.weights_, noise = np.exp(found.x[:d]), float(np.exp(found.x[d]))
        kernel = np.exp(-differences @ self.weights_) + (noise + 1e-6) * np.eye(n)
        self.chol_ = np.linalg.cholesky(kernel)
        self.alpha_ = _cho_inverse(self.chol_) @ z
        return self

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.linalg import solve_triangular

        features = np.asarray(features, dtype=np.float64)
        cross = np.concatenate([  # in chunks: the differences are (rows, n, choices)
            np.exp(-_choice_differences(features[i:i + 512], self.x_, self.categorical_)
                   @ self.weights_)
            for i in range(0, len(features), 512)
        ]) if len(features) else np.zeros((0, len(self.x_)))
        mean = cross @ self.alpha_
        v = solve_triangular(self.chol_, cross.T, lower=True, check_finite=False)
        variance = np.clip(1.0 - (v * v).sum(axis=0), 1e-12, None)
        return mean * self.scale_ + self.offset_, np.sqrt(variance) * self.scale_


def _choice_differences(a: np.ndarray, b: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """Per-choice distance: 1 where categorical codes differ, ``|a - b|`` for ranges."""
    diff = np.abs(a[:, None, :] - b[None, :, :])
    diff[:, :, categorical] = diff[:, :, categorical] > 0
    return diff


def _cho_inverse(chol: np.ndarray) -> np.ndarray:
    from scipy.linalg import cho_solve

    return cho_solve((chol, True), np.eye(len(chol)), check_finite=False)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0.0)
