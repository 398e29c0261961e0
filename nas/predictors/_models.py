"""The regressors and rankers behind :class:`~nas.predictors.PerformancePredictor`.

Each follows scikit-learn's estimator API (``fit(x, y)`` returns ``self``,
``predict(x)`` returns one score per row, higher = better). Which one is the
default was decided by measurement (``nas bench predictor``, NAS-Bench-201
CIFAR-10, graph features): the pairwise ranker beat boosted regression,
random forests and Gaussian processes from 25 and from 100 labels.

>>> ranker = PairwiseRanker(random_state=0).fit(features, accuracies)   # doctest: +SKIP
>>> scores = ranker.predict(candidates)                                  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MODELS", "PairwiseRanker", "BaggedBoosting", "create_model", "gaussian_copula"]


class PairwiseRanker:
    """Learns which of two architectures is better, then scores one against references.

    A gradient-boosted classifier sees every ordered pair of labelled
    architectures ``(a, b, a - b)`` and learns whether ``a`` beats ``b``
    (pairwise ranking as in BRP-NAS, Dudziak et al. 2020, with trees in place
    of a GNN). ``n`` labels give ``n(n-1)`` examples, which is why this
    learns more from 25 or 100 labels than a regressor on ``n`` values. A
    candidate's score is its mean win probability against ``n_references``
    labelled architectures spread evenly over the observed range.
    """

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.1, max_depth: int = 3,
                 subsample: float = 0.5, max_features: float = 0.3, n_references: int = 25,
                 random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.max_features = max_features
        self.n_references = n_references
        self.random_state = random_state

    def fit(self, features: np.ndarray, targets: np.ndarray) -> PairwiseRanker:
        from sklearn.ensemble import GradientBoostingClassifier

        x, y = np.asarray(features, dtype=np.float64), np.asarray(targets, dtype=np.float64)
        first, second = np.triu_indices(len(y), 1)
        differ = y[first] != y[second]
        first, second = first[differ], second[differ]
        pairs = np.vstack([_pair(x[first], x[second]), _pair(x[second], x[first])])
        wins = np.concatenate([y[first] > y[second], y[second] > y[first]])
        if len(np.unique(wins)) < 2:  # fewer than two distinct values: nothing to rank
            self.model_ = None
            return self
        self.model_ = GradientBoostingClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            max_depth=self.max_depth, subsample=self.subsample, max_features=self.max_features,
            random_state=self.random_state,
        ).fit(pairs, wins)
        order = np.argsort(y, kind="stable")
        picks = np.unique(np.linspace(0, len(y) - 1, min(self.n_references, len(y))).astype(int))
        self.references_ = x[order[picks]]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        if self.model_ is None:
            return np.zeros(len(x))
        wins = np.zeros(len(x))
        for reference in self.references_:
            others = np.broadcast_to(reference, x.shape)
            wins += self.model_.predict_proba(_pair(x, others))[:, 1]
        return wins / len(self.references_)


class BaggedBoosting:
    """Gradient-boosted regression trees on copula targets, averaged over seeds."""

    def __init__(self, members: int = 5, n_estimators: int = 500, learning_rate: float = 0.02,
                 max_depth: int = 3, subsample: float = 0.7, max_features: float = 0.5,
                 random_state: int = 0) -> None:
        self.members = members
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.max_features = max_features
        self.random_state = random_state

    def fit(self, features: np.ndarray, targets: np.ndarray) -> BaggedBoosting:
        from sklearn.ensemble import GradientBoostingRegressor

        z = gaussian_copula(targets)
        self.members_ = [
            GradientBoostingRegressor(
                n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                max_depth=self.max_depth, subsample=self.subsample,
                max_features=self.max_features, random_state=self.random_state * 1000 + k,
            ).fit(features, z)
            for k in range(self.members)
        ]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.mean([m.predict(features) for m in self.members_], axis=0)


class _RandomForest:
    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, features: np.ndarray, targets: np.ndarray) -> _RandomForest:
        from sklearn.ensemble import RandomForestRegressor

        self.model_ = RandomForestRegressor(300, max_features=0.33, n_jobs=1,
                                            random_state=self.random_state)
        self.model_.fit(features, gaussian_copula(targets))
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.model_.predict(features)


class _GaussianProcess:
    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, features: np.ndarray, targets: np.ndarray) -> _GaussianProcess:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        x = np.asarray(features, dtype=np.float64)
        self.offset_, spread = x.mean(axis=0), x.std(axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        kernel = ConstantKernel(1.0) * Matern(5.0, (1e-1, 1e3), nu=2.5) + WhiteKernel(0.1)
        self.model_ = GaussianProcessRegressor(kernel, normalize_y=True,
                                               random_state=self.random_state)
        self.model_.fit((x - self.offset_) / self.scale_, gaussian_copula(targets))
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, dtype=np.float64) - self.offset_) / self.scale_
        return self.model_.predict(x)


#: model name -> estimator class (constructor takes ``random_state``)
MODELS: dict[str, Any] = {
    "pairwise": PairwiseRanker,
    "gbm": BaggedBoosting,
    "rf": _RandomForest,
    "gp": _GaussianProcess,
}


def create_model(name: str, random_state: int = 0) -> Any:
    """A fresh estimator called ``name``; :class:`ValueError` lists the names when unknown."""
    if name not in MODELS:
        raise ValueError(f"unknown predictor model {name!r}; allowed: {', '.join(MODELS)}")
    return MODELS[name](random_state=random_state)


def gaussian_copula(values: np.ndarray) -> np.ndarray:
    """Ranks as standard-normal quantiles: the predictor learns the order, not the scale."""
    from scipy.stats import norm, rankdata

    values = np.asarray(values, dtype=np.float64)
    return norm.ppf((rankdata(values) - 0.5) / len(values))


def _pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hstack([a, b, a - b])
