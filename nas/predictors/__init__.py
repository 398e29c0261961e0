"""Learned performance predictors: from a few labelled architectures to a ranking of the space.

:class:`PerformancePredictor` turns architectures into zero-cost features
(:mod:`nas.features`, plus optional proxy columns) and fits one of
:data:`MODELS` (``pairwise`` by default, chosen by ``nas bench predictor``).
Samplers use it as their surrogate; ``nas bench predictor`` measures it.
"""

from __future__ import annotations

from nas.predictors._models import MODELS, BaggedBoosting, PairwiseRanker, create_model
from nas.predictors._predictor import PerformancePredictor, signed_log

__all__ = ["MODELS", "BaggedBoosting", "PairwiseRanker", "PerformancePredictor", "create_model",
           "signed_log"]
