"""Metrics in their display units on the dashboard's axes, headers, hovers and tables.

One unit per metric for the whole project comes from :mod:`nas.units` (the
CLI's tables use the same): the store keeps accuracy as a fraction, params and
FLOPs as counts, latency in ms; pages show accuracy in %, params in M params,
FLOPs in MFLOPs. This module applies that to plots and frames.

>>> axis_label("val_accuracy"), format_value("val_accuracy", 0.9138)
('val_accuracy (%)', '91.38%')
>>> axis_label("params"), format_value("params", 434695.0)
('M params', '0.4347 M params')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nas.units import metric_unit

__all__ = ["unit_symbol", "axis_label", "to_display", "format_value", "display_frame"]


def unit_symbol(metric: str) -> str:
    """The unit ``metric`` is shown in (``%``, ``ms``, ``M params``), empty for a plain number."""
    return metric_unit(metric).label


def axis_label(metric: str) -> str:
    """The axis title or header for ``metric``: ``val_accuracy (%)``, ``M params``, ``edgegpu_latency (ms)``."""
    return metric_unit(metric).header(metric)


def to_display(metric: str, values: Any) -> Any:
    """Stored values (a number, array or Series) in the metric's display unit."""
    scale = metric_unit(metric).scale
    if isinstance(values, pd.Series):
        return pd.to_numeric(values, errors="coerce") * scale
    if np.ndim(values):
        return np.asarray(values, dtype=float) * scale
    return float(values) * scale


def format_value(metric: str, value: Any) -> str:
    """One stored value as text with its unit: ``91.38%``, ``5.807 ms``, ``0.4347 M params``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    unit = metric_unit(metric)
    shown = unit.format(number + 0.0)  # + 0.0: never "-0"
    if not shown or not unit.label:
        return shown
    return f"{shown}%" if unit.label == "%" else f"{shown} {unit.label}"


def display_frame(frame: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """``frame`` with each of ``metrics`` in its display unit, its header naming the unit."""
    shown = frame.copy()
    for metric in metrics:
        if metric in shown.columns:
            shown[metric] = to_display(metric, shown[metric])
    return shown.rename(columns={m: axis_label(m) for m in metrics if m in shown.columns})
