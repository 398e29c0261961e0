"""Study: Pareto front (2-D / 3-D), hypervolume, history, choices, importance and the trial table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard._data import StudyData, engine_or_stop, storage_url
from dashboard._hypervolume import hypervolume_history, reference_point, to_losses
from dashboard._panels import architecture_panel, pick_study, run_live
from dashboard._plots import (
    history_figure,
    hypervolume_figure,
    parallel_figure,
    pareto_3d_figure,
    pareto_figure,
)
from nas.store import param_distributions, pareto_mask

# Study attr where a search keeps its hypervolume reference point (nas.hypervolume).
REFERENCE_ATTR = "hypervolume_reference"
_VIEWS = ("Hypervolume", "History", "Choices", "Importance", "Trials")


def render() -> None:
    data = pick_study()
    if data is None:
        return
    _summary(data)
    if data.complete.empty:
        st.info(f"Study **{data.name}** has no complete trials yet. "
                "Its Pareto front appears here as soon as the first trial finishes.")
        return
    if len(data.objectives) >= 2:
        _pareto_section(data)
    else:
        best = data.complete.sort_values(data.objectives[0],
                                         ascending=data.directions[0] == "minimize").iloc[0]
        st.success(f"Single objective: the best trial is **{int(best.number)}** "
                   f"({data.objectives[0]} = {best[data.objectives[0]]:.4g}).")
        st.session_state.setdefault("current_trial", int(best.number))
    view = st.radio("Show", _VIEWS if len(data.objectives) >= 2 else _VIEWS[1:],
                    horizontal=True, key="study_view")
    {"Hypervolume": _hypervolume, "History": _history, "Choices": _choices,
     "Importance": _importance, "Trials": _table}[view](data)


def _summary(data: StudyData) -> None:
    info, trials = data.info, data.trials
    counts = trials.state.value_counts()
    parts = [f"{k} **{info[k]}**" for k in ("family", "space", "task", "sampler") if info.get(k)]
    st.markdown(" · ".join(parts) or "(no nas settings recorded)")
    columns = st.columns(4)
    columns[0].metric("complete", int(counts.get("COMPLETE", 0)))
    columns[1].metric("running", int(counts.get("RUNNING", 0)))
    columns[2].metric("failed", int(counts.get("FAIL", 0)))
    columns[3].metric("objectives", len(data.objectives))


def _pareto_section(data: StudyData) -> None:
    directions = dict(zip(data.objectives, data.directions))
    complete = data.complete
    if len(data.objectives) >= 3:
        st.plotly_chart(pareto_3d_figure(complete, data.objectives[:3], directions,
                                         data.choice_columns), width="stretch", key="pareto3d")
    left, right = st.columns(2)
    x = left.selectbox("x axis", data.objectives, index=1, key="pareto_x")
    y = right.selectbox("y axis", [o for o in data.objectives if o != x], index=0, key="pareto_y")
    losses = to_losses(complete[[x, y]].to_numpy(), [directions[x], directions[y]])
    reference = _reference(data, [x, y], losses)[0] * np.array(
        [-1.0 if directions[o] == "maximize" else 1.0 for o in (x, y)])
    figure = _cached_pareto_figure(storage_url(), data.name, data.fingerprint, x, y,
                                   st.session_state.get("current_trial"),
                                   (float(reference[0]), float(reference[1])), data)
    event = st.plotly_chart(figure, width="stretch", on_select="rerun",
                            selection_mode="points", key=f"pareto-{data.name}-{x}-{y}")
    picked = _picked_trial(event, figure)
    if picked is not None and picked != st.session_state.get("current_trial"):
        st.session_state["current_trial"] = picked
        st.rerun()
    front = complete[pareto_mask(complete[[x, y]].to_numpy(), [directions[x], directions[y]])]
    st.caption(f"{len(front)} Pareto-optimal of {len(complete)} complete trials. "
               "Click a point to see its architecture.")
    number = st.session_state.get("current_trial")
    if number is not None and (data.trials.number == number).any():
        with st.container(border=True):
            architecture_panel(data, int(number), compact=True)
            st.page_link("views/architecture.py", label=f"Open trial {number} on the Architecture page",
                         query_params={"study": data.name, "trial": str(number)})


@st.cache_resource(show_spinner=False, max_entries=32)
def _cached_pareto_figure(url: str, name: str, fingerprint: tuple[object, ...], x: str, y: str,
                          selected: int | None, reference: tuple[float, float],
                          _data: StudyData) -> go.Figure:
    """The Pareto figure, one per study state and view, shared by every session.

    Building it for 10,000 trials takes ~0.1 s of the server's CPU, and live
    refresh reruns the page every few seconds in every open tab. The
    fingerprint stands for the trials; the figure is only read afterwards
    (``st.plotly_chart`` serialises a copy), so sharing one object is safe.
    """
    directions = dict(zip(_data.objectives, _data.directions))
    return pareto_figure(_data.complete, x, y, directions, _data.choice_columns,
                         selected=selected, reference=reference)


def _picked_trial(event: Any, figure: Any) -> int | None:
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    for point in points:
        custom = point.get("customdata")
        if custom is None:
            trace = figure.data[point.get("curve_number", 0)]
            if trace.customdata is None:
                continue
            custom = trace.customdata[point.get("point_index", point.get("point_number", 0))]
        if isinstance(custom, (list, tuple)):
            custom = custom[0]
        if custom is not None:
            return int(custom)
    return None


def _hypervolume(data: StudyData) -> None:
    objectives, directions = data.objectives, data.directions
    complete = data.complete.sort_values("number")
    losses = to_losses(complete[objectives].to_numpy(), directions)
    reference, fixed_by_search = _reference(data, objectives, losses)
    numbers, volumes = _cached_history(storage_url(), data.name, data.fingerprint, losses, reference)
    stored = complete.set_index("number")["hypervolume"] if "hypervolume" in complete else None
    positions = complete.number.to_numpy()[numbers] if len(numbers) else numbers
    st.plotly_chart(hypervolume_figure(positions, volumes, stored), width="stretch", key="hv")
    shown = ", ".join(f"{o} = {v:.4g}" for o, v in zip(
        objectives, reference * np.array([-1.0 if d == "maximize" else 1.0 for d in directions])))
    origin = ("fixed by the search when its first trial completed, so it matches the "
              "hypervolume each trial recorded" if fixed_by_search else
              "worst observed value of each objective, 10% of its range further")
    st.caption(f"Reference point: {shown} ({origin}; the grey × on the Pareto plot). "
               f"Final hypervolume {volumes[-1] if len(volumes) else 0:.4g}.")


def _reference(data: StudyData, objectives: list[str], losses: np.ndarray) -> tuple[np.ndarray, bool]:
    """The hypervolume reference (as losses) for ``objectives``; True if the search fixed it.

    A search stores its reference in the study attr ``hypervolume_reference``
    (one loss per objective) and each trial's hypervolume against it; using the
    same point keeps our curve and the recorded one comparable. Older studies
    get the worst observed loss plus a margin.
    """
    stored = data.info.get(REFERENCE_ATTR)
    if isinstance(stored, list) and len(stored) == len(data.objectives):
        by_name = dict(zip(data.objectives, stored))
        return np.array([float(by_name[o]) for o in objectives]), True
    return reference_point(losses), False


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_history(url: str, name: str, fingerprint: tuple[object, ...], _losses: np.ndarray,
                    _reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # The fingerprint stands for the losses and reference: both derive from the trials.
    return hypervolume_history(_losses, _reference)


def _history(data: StudyData) -> None:
    objective = st.selectbox("Objective", data.objectives, key="history_objective")
    direction = dict(zip(data.objectives, data.directions))[objective]
    st.plotly_chart(history_figure(data.complete, objective, direction), width="stretch",
                    key="history")


def _choices(data: StudyData) -> None:
    if not data.choice_columns:
        st.info("These trials record no choices.")
        return
    colour = st.selectbox("Colour by", data.objectives, key="parallel_colour")
    st.plotly_chart(parallel_figure(data.complete, data.choice_columns, colour), width="stretch",
                    key="parallel")


def _importance(data: StudyData) -> None:
    if len(data.complete) < 4 or not data.choice_columns:
        st.info("Choice importance needs at least 4 complete trials with recorded choices.")
        return
    objective = st.selectbox("Objective", data.objectives, key="importance_objective")
    importances = _cached_importance(storage_url(), data.name, data.fingerprint, objective)
    st.bar_chart(importances, horizontal=True)
    st.caption("fANOVA (Hutter et al. 2014) through Optuna's evaluator, on the latest complete "
               "trials: how much of the objective's variance each choice explains.")


@st.cache_data(show_spinner="Fitting fANOVA…", max_entries=16)
def _cached_importance(url: str, name: str, fingerprint: tuple[object, ...], objective: str) -> pd.Series:
    from dashboard._data import study_or_stop
    from dashboard._importance import choice_importance

    data = study_or_stop(url, name)
    return choice_importance(data.complete, objective, param_distributions(engine_or_stop(url), name))


def _table(data: StudyData) -> None:
    trials = data.trials
    left, middle, right = st.columns([2, 1, 2])
    states = left.multiselect("States", sorted(trials.state.unique()),
                              default=["COMPLETE"] if (trials.state == "COMPLETE").any() else None,
                              key="table_states")
    only_front = middle.checkbox("Pareto only", key="table_front",
                                 disabled=len(data.objectives) < 2)
    text = right.text_input("Filter by choice (e.g. conv=gat)", key="table_filter")
    rows = trials[trials.state.isin(states)] if states else trials
    if only_front and len(data.objectives) >= 2:
        done = rows.dropna(subset=data.objectives)
        rows = done[pareto_mask(done[data.objectives].to_numpy(), data.directions)]
    if text:
        rows = rows[_matches(rows, text)]
    columns = ["number", "state", *data.objectives, "fidelity", *data.choice_columns,
               "duration_s", "datetime_complete"]
    shown = rows[[c for c in dict.fromkeys(columns) if c in rows.columns]]
    shown = shown.rename(columns={c: c.removeprefix("param_") for c in data.choice_columns})
    sort_by = st.selectbox("Sort by", list(shown.columns), index=0, key="table_sort")
    descending = st.toggle("Descending", key="table_desc")
    shown = shown.sort_values(sort_by, ascending=not descending, kind="stable")
    st.dataframe(shown, hide_index=True, width="stretch", height=420)
    st.download_button("Download CSV", shown.to_csv(index=False).encode(),
                       file_name=f"{data.name}-trials.csv", mime="text/csv")
    st.caption(f"{len(shown)} of {len(trials)} trials")


def _matches(rows: pd.DataFrame, text: str) -> pd.Series:
    """``choice=value`` terms (all must hold), or a plain substring of the architecture."""
    mask = pd.Series(True, index=rows.index)
    for term in text.split():
        if "=" in term:
            name, value = term.split("=", 1)
            column = f"param_{name.strip()}"
            if column not in rows.columns:
                return pd.Series(False, index=rows.index)
            mask &= rows[column].astype(str) == value.strip()
        else:
            haystack = rows["arch"].astype(str) if "arch" in rows else pd.Series("", index=rows.index)
            mask &= haystack.str.contains(term, regex=False)
    return mask


st.title("Study")
run_live(render)
