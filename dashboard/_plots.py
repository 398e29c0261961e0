"""Plotly figures of a study: Pareto fronts (2-D, 3-D, overlaid), hypervolume, history, choices.

Pure functions from data frames to figures, so pages stay short and the
figures can be tested without a browser. Large studies switch to WebGL traces
(``Scattergl``), which keep 10,000 points interactive.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard._units import axis_label, format_value, to_display
from nas.dominance import pareto_mask

__all__ = [
    "WEBGL_ABOVE",
    "arch_hover",
    "pareto_figure",
    "pareto_3d_figure",
    "compare_figure",
    "hypervolume_figure",
    "history_figure",
    "parallel_figure",
]

# Above this many points SVG scatter gets slow in the browser; WebGL does not.
WEBGL_ABOVE = 2000
_FRONT_COLOUR = "#d62728"
_DOMINATED_COLOUR = "rgba(31, 119, 180, 0.25)"


def arch_hover(trials: pd.DataFrame, choice_columns: Sequence[str], limit: int = 12,
               objectives: Sequence[str] = ()) -> list[str]:
    """One hover text per trial: its number, its ``objectives`` (with units), its first choices."""
    texts = "<b>trial " + trials["number"].astype(str) + "</b>"
    for objective in objectives:
        if objective in trials.columns:
            shown = trials[objective].map(lambda v, o=objective: format_value(o, v))
            texts = texts + "<br>" + objective + " = " + shown.astype(str)
    for column in list(choice_columns)[:limit]:
        values = trials[column]
        shown = values.map(_short, na_action="ignore").astype(object)
        part = ("<br>" + column.removeprefix("param_") + "=" + shown).where(values.notna(), "")
        texts = texts + part
    return texts.tolist()


def pareto_figure(
    complete: pd.DataFrame,
    x: str,
    y: str,
    directions: dict[str, str],
    choice_columns: Sequence[str],
    selected: int | None = None,
    reference: tuple[float, float] | None = None,
    floors: Sequence[float | None] | None = None,
) -> go.Figure:
    """Two objectives: Pareto points in red (joined by a step line), dominated faded.

    Values are drawn in each metric's display unit; ``floors`` (x, y) keep models
    at or below an accuracy floor off the front.
    """
    data = complete.dropna(subset=[x, y])
    mask = pareto_mask(data[[x, y]].to_numpy(), [directions[x], directions[y]], floors)
    objectives = list(dict.fromkeys([y, x, *directions]))
    data = data.assign(_hover=arch_hover(data, choice_columns, objectives=objectives))
    data[x], data[y] = to_display(x, data[x]), to_display(y, data[y])
    scatter = go.Scattergl if len(data) > WEBGL_ABOVE else go.Scatter
    figure = go.Figure()
    front = data[mask].sort_values(x, kind="stable")
    dominated = data[~mask]
    # A faded point hidden under a Pareto marker would take the hover and the click
    # meant for the red one (Plotly prefers it): such points are left out of both.
    # (Per-point hoverinfo="skip" is ignored, so they get a trace of their own.)
    hidden = _under(dominated[[x, y]].to_numpy(float), front[[x, y]].to_numpy(float),
                    data[[x, y]].to_numpy(float))
    visible = dominated[~hidden]
    figure.add_trace(scatter(
        x=visible[x], y=visible[y], mode="markers", name="dominated",
        marker={"color": _DOMINATED_COLOUR, "size": 6}, legendgroup="dominated",
        customdata=visible["number"], hovertext=visible["_hover"], hoverinfo="text",
    ))
    if hidden.any():
        covered = dominated[hidden]
        figure.add_trace(scatter(
            x=covered[x], y=covered[y], mode="markers", name="dominated (under the front)",
            marker={"color": _DOMINATED_COLOUR, "size": 6}, legendgroup="dominated",
            showlegend=False, customdata=covered["number"], hoverinfo="skip",
        ))
    # Drawn last, so the front stays on top of the cloud (WebGL has no z-order).
    figure.add_trace(scatter(
        x=front[x], y=front[y], mode="markers+lines", name="Pareto front",
        line={"shape": "hv" if directions[x] == "minimize" else "vh", "color": _FRONT_COLOUR,
              "width": 1},
        marker={"color": _FRONT_COLOUR, "size": 10, "line": {"color": "white", "width": 1}},
        customdata=front["number"], hovertext=front["_hover"], hoverinfo="text",
    ))
    if selected is not None and (data.number == selected).any():
        row = data[data.number == selected].iloc[0]
        figure.add_trace(go.Scatter(
            x=[row[x]], y=[row[y]], mode="markers", name=f"trial {selected}",
            marker={"symbol": "circle-open", "size": 18, "color": "black", "line": {"width": 2}},
            hoverinfo="skip",
        ))
    if reference is not None:
        figure.add_trace(go.Scatter(
            x=[to_display(x, reference[0])], y=[to_display(y, reference[1])], mode="markers",
            name="HV reference", marker={"symbol": "x", "size": 10, "color": "grey"},
            hovertext=[f"hypervolume reference: {x} = {format_value(x, reference[0])}, "
                       f"{y} = {format_value(y, reference[1])}"],
            hoverinfo="text",
        ))
    figure.update_layout(
        xaxis_title=_title(x, directions[x]), yaxis_title=_title(y, directions[y]),
        height=480, margin={"l": 10, "r": 10, "t": 30, "b": 10}, clickmode="event+select", hovermode="closest",
        legend={"orientation": "h", "y": 1.08},
    )
    return figure


def pareto_3d_figure(
    complete: pd.DataFrame, axes: Sequence[str], directions: dict[str, str],
    choice_columns: Sequence[str], floors: Sequence[float | None] | None = None,
) -> go.Figure:
    """Three objectives in 3-D: the front in red, the rest faded (values in display units)."""
    data = complete.dropna(subset=list(axes))
    mask = pareto_mask(data[list(axes)].to_numpy(), [directions[a] for a in axes], floors)
    hover = np.array(arch_hover(data, choice_columns, objectives=list(axes)), dtype=object)
    data = data.assign(**{a: to_display(a, data[a]) for a in axes})
    figure = go.Figure()
    for name, part, colour, size in (("dominated", ~mask, _DOMINATED_COLOUR, 3),
                                     ("Pareto front", mask, _FRONT_COLOUR, 6)):
        rows = data[part]
        figure.add_trace(go.Scatter3d(
            x=rows[axes[0]], y=rows[axes[1]], z=rows[axes[2]], mode="markers", name=name,
            marker={"color": colour, "size": size}, hovertext=hover[part], hoverinfo="text",
            customdata=rows["number"],
        ))
    figure.update_layout(
        scene={"xaxis_title": axis_label(axes[0]), "yaxis_title": axis_label(axes[1]),
               "zaxis_title": axis_label(axes[2])},
        height=560, margin={"l": 0, "r": 0, "t": 30, "b": 0},
    )
    return figure


def compare_figure(
    fronts: dict[str, pd.DataFrame], x: str, y: str, directions: dict[str, str]
) -> go.Figure:
    """Pareto fronts of several studies on the same two objectives, one colour each."""
    figure = go.Figure()
    for name, front in fronts.items():
        front = front.sort_values(x)
        figure.add_trace(go.Scatter(
            x=to_display(x, front[x]), y=to_display(y, front[y]), mode="markers+lines", name=name,
            line={"shape": "hv" if directions[x] == "minimize" else "vh"},
            hovertext=[f"<b>{name}</b> trial {n}<br>{y} = {format_value(y, b)}<br>"
                       f"{x} = {format_value(x, a)}"
                       for n, a, b in zip(front.number, front[x], front[y])],
            hoverinfo="text",
        ))
    figure.update_layout(
        xaxis_title=_title(x, directions[x]), yaxis_title=_title(y, directions[y]),
        height=480, margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


def hypervolume_figure(numbers: np.ndarray, volumes: np.ndarray, stored: pd.Series | None) -> go.Figure:
    """Normalised hypervolume after each trial, and each trial's own record when stored."""
    figure = go.Figure(go.Scatter(x=numbers, y=volumes, mode="lines", name="hypervolume",
                                  line={"shape": "hv"},
                                  hovertemplate="after trial %{x}: %{y:.4f}<extra></extra>"))
    if stored is not None and stored.notna().any():
        figure.add_trace(go.Scatter(x=stored.index, y=stored.to_numpy(), mode="markers",
                                    name="recorded by each trial", marker={"size": 5},
                                    hovertemplate="trial %{x} recorded %{y:.4f}<extra></extra>"))
    figure.update_layout(xaxis_title="trial", yaxis_title="hypervolume (share of the box, 0–1)",
                         yaxis={"rangemode": "tozero"}, height=360,
                         margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         legend={"orientation": "h", "y": 1.1})
    return figure


def history_figure(complete: pd.DataFrame, objective: str, direction: str) -> go.Figure:
    """Every trial's value of ``objective`` and the best so far."""
    data = complete.dropna(subset=[objective]).sort_values("number")
    values = np.asarray(to_display(objective, data[objective].to_numpy(dtype=float)))
    best = np.maximum.accumulate(values) if direction == "maximize" else np.minimum.accumulate(values)
    scatter = go.Scattergl if len(data) > WEBGL_ABOVE else go.Scatter
    figure = go.Figure([
        scatter(x=data.number, y=values, mode="markers", name=objective,
                marker={"color": _DOMINATED_COLOUR.replace("0.25", "0.6"), "size": 5}),
        go.Scatter(x=data.number, y=best, mode="lines", name="best so far",
                   line={"color": _FRONT_COLOUR, "shape": "hv"}),
    ])
    figure.update_layout(xaxis_title="trial", yaxis_title=_title(objective, direction), height=360,
                         margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def parallel_figure(complete: pd.DataFrame, choice_columns: Sequence[str], colour_by: str) -> go.Figure:
    """Parallel coordinates: one axis per choice, the last for ``colour_by``; lines coloured by it."""
    dimensions = []
    for column in choice_columns:
        values = complete[column]
        label = column.removeprefix("param_")
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric and values.nunique() > 6:
            # Short ticks: a log-sampled learning rate would print 16 digits.
            dimensions.append({"label": label, "values": values.astype(float), "tickformat": ".3~g"})
            continue
        present = values.dropna().unique()
        ordered = sorted(present) if numeric else sorted(present, key=str)
        codes = values.map({c: i for i, c in enumerate(ordered)})
        dimensions.append({"label": label, "values": codes, "tickvals": list(range(len(ordered))),
                           "ticktext": [_short(c) for c in ordered]})
    colour = np.asarray(to_display(colour_by, complete[colour_by].to_numpy(dtype=float)))
    dimensions.append({"label": axis_label(colour_by), "values": colour, "tickformat": ".4~g"})
    # Many axes leave each label less room than its name: tilted, neighbours clear each other.
    crowded = len(dimensions) > 7
    longest = max(len(str(d["label"])) for d in dimensions)
    figure = go.Figure(go.Parcoords(
        line={"color": colour, "colorscale": "Viridis", "showscale": True,
              "colorbar": {"title": {"text": axis_label(colour_by)}, "tickformat": ".4~g"}},
        dimensions=dimensions, labelangle=-30 if crowded else 0, labelside="top",
    ))
    # The first axis's tick labels sit left of it: room for the longest, or they are cut.
    first = dimensions[0].get("ticktext") or [] if dimensions else []
    left = max(60, 12 + 7 * max((len(str(t)) for t in first), default=0))
    top = 40 + (int(3.5 * longest) if crowded else 10)
    figure.update_layout(height=380 + top, margin={"l": left, "r": 60, "t": top, "b": 20})
    return figure


def _under(points: np.ndarray, markers: np.ndarray, everything: np.ndarray,
           fraction: tuple[float, float] = (0.012, 0.025)) -> np.ndarray:
    """Which ``points`` lie within a marker's radius of one of ``markers``.

    The radius is a fraction of each axis's span (a 10 px marker on a plot about
    900 × 400 px); the spans are those of ``everything`` that is drawn.
    """
    if len(points) == 0 or len(markers) == 0:
        return np.zeros(len(points), dtype=bool)
    span = np.ptp(everything, axis=0)
    span = np.where(span > 0, span, 1.0) * np.asarray(fraction)
    gaps = np.abs(points[:, None, :] - markers[None, :, :]) / span
    return np.any(np.all(gaps <= 1.0, axis=2), axis=1)


def _title(metric: str, direction: str) -> str:
    """``val_accuracy (%) · higher is better``: the axis title with its unit and direction."""
    better = "higher is better" if direction == "maximize" else "lower is better"
    return f"{axis_label(metric)} · {better}"


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, (float, np.floating)) else str(value)
