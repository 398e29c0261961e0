"""One unit per metric: how a stored figure is shown in tables, plots and headers. Torch-free.

The store keeps every metric in one base unit, whatever measured it: accuracy
as a fraction in [0, 1], params and FLOPs as plain counts, latency in
milliseconds, memory in megabytes. :func:`metric_unit` says how to *show* a
metric (accuracy as %, params in millions, FLOPs in MFLOPs), so the CLI and
the dashboard label the same figure the same way::

    >>> unit = metric_unit("val_accuracy")
    >>> unit.header("val_accuracy"), unit.format(0.9138)
    ('val_accuracy (%)', '91.38')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MetricUnit", "metric_unit", "is_accuracy", "round_measured"]


@dataclass(frozen=True)
class MetricUnit:
    """``shown = stored * scale``, labelled ``label`` (empty: no unit)."""

    label: str = ""
    scale: float = 1.0
    #: significant digits a shown value keeps
    digits: int = 4

    def header(self, metric: str) -> str:
        """``metric (label)``; the label alone where it names the metric (``M params``,
        ``MFLOPs``); the bare name for a unitless metric."""
        if not self.label:
            return metric
        if metric.lower() in self.label.lower():
            return self.label
        return f"{metric} ({self.label})"

    def show(self, stored: float) -> float:
        return stored * self.scale

    def format(self, stored: float | None) -> str:
        if stored is None or (isinstance(stored, float) and math.isnan(stored)):
            return ""
        shown = self.show(float(stored))
        if self.label == "%":
            return f"{shown:.2f}"
        return f"{shown:.{self.digits}g}"


PERCENT = MetricUnit("%", 100.0)
_BY_NAME = {
    "params": MetricUnit("M params", 1e-6),
    "flops": MetricUnit("MFLOPs", 1e-6),
}
#: (suffix, unit) for the metric families named by their ending
_BY_SUFFIX = (
    ("_latency", MetricUnit("ms")),
    ("latency_ms", MetricUnit("ms")),
    ("_ms", MetricUnit("ms")),
    ("_mb", MetricUnit("MB")),
    ("_energy", MetricUnit("mJ")),
    ("_seconds", MetricUnit("s")),
)


def is_accuracy(metric: str) -> bool:
    """Whether ``metric`` is an accuracy (stored as a fraction, shown as %)."""
    return metric == "accuracy" or metric.endswith("_accuracy") or metric.endswith("_acc")


def metric_unit(metric: str) -> MetricUnit:
    """How ``metric`` is shown; a metric we know nothing of is shown as stored, unlabelled."""
    if is_accuracy(metric):
        return PERCENT
    if metric in _BY_NAME:
        return _BY_NAME[metric]
    if metric == "predicted_latency":
        return MetricUnit("ms", 1e-3)  # the latency table predicts microseconds
    if metric == "latency":
        return MetricUnit("ms")
    for suffix, unit in _BY_SUFFIX:
        if metric.endswith(suffix):
            return unit
    return MetricUnit()


def round_measured(value: float, digits: int = 7) -> float | int:
    """``value`` without the noise of its float32 origin: 7 significant digits
    (float32 holds about 7), and an integral value as an int.

    >>> round_measured(0.8080000281333923), round_measured(434695.0)
    (0.808, 434695)
    """
    if not math.isfinite(value):
        return value
    if float(value).is_integer() and abs(value) < 2**53:
        return int(value)
    return float(f"{value:.{digits}g}")
