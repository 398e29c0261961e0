"""A performance predictor over a space's architectures: features, then a learned model.

Features are the zero-cost graph features of :mod:`nas.features` (the
compact set by default), optionally followed by extra columns the caller
supplies per architecture (zero-cost proxy scores, a supernet's score),
on a signed log scale (synflow reaches 1e30 and more, beyond float32, which
the trees work in; the order, which is all trees use, is kept). Where an
extra value is missing (``NaN``), the column's median over the labelled
architectures stands in.

>>> predictor = PerformancePredictor(space, seed=0).fit(archs, accuracies)  # doctest: +SKIP
>>> scores = predictor.predict(candidates)     # higher = predicted better  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nas.features import compact_columns, feature_matrix, feature_names
from nas.predictors._models import create_model

__all__ = ["PerformancePredictor", "signed_log"]


class PerformancePredictor:
    """Learns a space's architectures' scores from a few labelled ones (scikit-learn API)."""

    def __init__(self, space: Any, model: str = "pairwise", compact: bool = True,
                 seed: int = 0) -> None:
        self.space = space
        self.model = model
        self.compact = compact
        self.seed = seed
        self._memo: dict[str, np.ndarray] = {}

    def features(self, archs: Sequence[Mapping[str, Any]],
                 extra: np.ndarray | None = None) -> np.ndarray:
        """The feature rows the model sees: graph features, then ``extra`` columns."""
        x = feature_matrix(self.space, archs, self._memo)
        if self.compact:
            x = x[:, compact_columns(feature_names(self.space))]
        if extra is not None:
            x = np.hstack([x, signed_log(np.asarray(extra, dtype=np.float64).reshape(len(x), -1))])
        return x

    def fit(self, archs: Sequence[Mapping[str, Any]], values: Sequence[float],
            extra: np.ndarray | None = None) -> PerformancePredictor:
        """Fit on labelled architectures (``values``: higher = better)."""
        x = self.features(archs, extra)
        self.fill_ = np.nanmedian(x, axis=0) if len(x) else np.zeros(x.shape[1])
        self.fill_ = np.where(np.isnan(self.fill_), 0.0, self.fill_)
        self.model_ = create_model(self.model, self.seed).fit(
            self._filled(x), np.asarray(values, dtype=np.float64))
        return self

    def predict(self, archs: Sequence[Mapping[str, Any]],
                extra: np.ndarray | None = None) -> np.ndarray:
        """One score per architecture, higher = predicted better (a ranking, not a value)."""
        return np.asarray(self.model_.predict(self._filled(self.features(archs, extra))))

    def _filled(self, x: np.ndarray) -> np.ndarray:
        missing = np.isnan(x)
        return np.where(missing, self.fill_[None, :], x) if missing.any() else x


def signed_log(values: np.ndarray) -> np.ndarray:
    """``sign(v) * log(1 + |v|)``: same order, any float64 brought within float32's range."""
    values = np.asarray(values, dtype=np.float64)
    return np.sign(values) * np.log1p(np.abs(values))
