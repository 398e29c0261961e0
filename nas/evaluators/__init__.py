"""Evaluators, one per fidelity: ``train``, ``tabular``, ``proxy``, ``supernet``."""

from __future__ import annotations

from nas.evaluators._base import Evaluation, Evaluator
from nas.registry import Registry

EVALUATORS: Registry[type[Evaluator]] = Registry("evaluator", package="nas.evaluators")

__all__ = ["EVALUATORS", "Evaluation", "Evaluator"]
