"""Study: Pareto front (2-D / 3-D), hypervolume, history, choices, importance and the trial table."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard._data import StudyData, engine_or_stop, storage_url
from dashboard._hypervolume import (
    EXPLANATION,
    Box,
    normalised_curve,
    recorded_values,
    study_box,
)
from dashboard._panels import architecture_panel, pick_study, run_live
from dashboard._plots import (
    history_figure,
    hypervolume_figure,
    parallel_figure,
    pareto_3d_figure,
    pareto_figure,
)
from dashboard._units import axis_label, display_frame, format_value, unit_symbol
from nas.dominance import pareto_mask
from nas.store import WARM_START_ATTR, param_distributions

# Below this many trials fANOVA's importances are unstable (they change with the forest's seed).
FEW_TRIALS = 30
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
        objective = data.objectives[0]
        st.success(f"Single objective: the best trial is **{int(best.number)}** "
                   f"({objective} = {format_value(objective, best[objective])}).")
        st.session_state.setdefault("current_trial", int(best.number))
    view = st.radio("Show", _VIEWS if len(data.objectives) >= 2 else _VIEWS[1:],
                    horizontal=True, key="study_view")
    {"Hypervolume": _hypervolume, "History": _history, "Choices": _choices,
     "Importance": _importance, "Trials": _table}[view](data)


def _summary(data: StudyData) -> None:
    info, trials = data.info, data.trials
    # A trial cut by Ctrl-C is FAIL to Optuna but no failure (attr nas.store.INTERRUPTED_ATTR).
    interrupted = trials["nas_interrupted"].notna() if "nas_interrupted" in trials else False
    counts = trials.state.where(~((trials.state == "FAIL") & interrupted), "INTERRUPTED").value_counts()
    parts = [f"{k} **{info[k]}**" for k in ("family", "space", "task", "sampler") if info.get(k)]
    st.markdown(" · ".join(parts) or "(no nas settings recorded)")
    if info.get(WARM_START_ATTR):
        sources = ", ".join(f"**{name}** ({n} trials)" for name, n in info[WARM_START_ATTR].items())
        st.caption(f"Warm-started from {sources}: their architectures' ranks were the "
                   "sampler's prior.")
    columns = st.columns(5)
    columns[0].metric("complete", int(counts.get("COMPLETE", 0)))
    columns[1].metric("running", int(counts.get("RUNNING", 0)))
    columns[2].metric("failed", int(counts.get("FAIL", 0)))
    columns[3].metric("objectives", len(data.objectives))
    box = study_box(data) if len(data.objectives) >= 2 else None
    if box is not None:
        _, volumes = normalised_curve(data, box)
        columns[4].metric("hypervolume", f"{volumes[-1]:.4f}" if len(volumes) else "–",
                          help=EXPLANATION)
        st.caption(f"{EXPLANATION} Box: {box.describe()}.")


def _pareto_section(data: StudyData) -> None:
    directions = dict(zip(data.objectives, data.directions))
    complete = data.complete
    box = study_box(data)
    floors = dict(zip(data.objectives, box.floors() if box else [None] * len(data.objectives)))
    if len(data.objectives) >= 3:
        axes = data.objectives[:3]
        st.plotly_chart(pareto_3d_figure(complete, axes, directions, data.choice_columns,
                                         [floors[a] for a in axes]),
                        width="stretch", key="pareto3d")
    left, right = st.columns(2)
    x = left.selectbox("x axis", data.objectives, index=1, key="pareto_x")
    y = right.selectbox("y axis", [o for o in data.objectives if o != x], index=0, key="pareto_y")
    reference = None
    if box is not None:
        corner = dict(zip(data.objectives, box.values(box.reference)[0]))
        reference = (float(corner[x]), float(corner[y]))
    figure = _cached_pareto_figure(storage_url(), data.name, data.fingerprint, x, y,
                                   st.session_state.get("current_trial"), reference,
                                   (floors[x], floors[y]), data)
    event = st.plotly_chart(figure, width="stretch", on_select="rerun",
                            selection_mode="points", key=f"pareto-{data.name}-{x}-{y}")
    picked = _picked_trial(event, figure)
    if picked is not None and picked != st.session_state.get("current_trial"):
        st.session_state["current_trial"] = picked
        st.rerun()
    front = complete[pareto_mask(complete[[x, y]].to_numpy(), [directions[x], directions[y]],
                                 [floors[x], floors[y]])]
    floor_note = "".join(
        f" Models at or below the {o} floor ({format_value(o, f)}) cannot join the front."
        for o, f in floors.items() if f is not None and o in (x, y))
    st.caption(f"{len(front)} Pareto-optimal of {len(complete)} complete trials.{floor_note} "
               "Click a point to see its architecture.")
    number = st.session_state.get("current_trial")
    if number is not None and (data.trials.number == number).any():
        with st.container(border=True):
            architecture_panel(data, int(number), compact=True)
            st.page_link("views/architecture.py", label=f"Open trial {number} on the Architecture page",
                         query_params={"study": data.name, "trial": str(number)})


@st.cache_resource(show_spinner=False, max_entries=32)
def _cached_pareto_figure(url: str, name: str, fingerprint: tuple[object, ...], x: str, y: str,
                          selected: int | None, reference: tuple[float, float] | None,
                          floors: tuple[float | None, float | None], _data: StudyData) -> go.Figure:
    """The Pareto figure, one per study state and view, shared by every session.

    Building it for 10,000 trials takes ~0.1 s of the server's CPU, and live
    refresh reruns the page every few seconds in every open tab. The
    fingerprint stands for the trials; the figure is only read afterwards
    (``st.plotly_chart`` serialises a copy), so sharing one object is safe.
    """
    directions = dict(zip(_data.objectives, _data.directions))
    return pareto_figure(_data.complete, x, y, directions, _data.choice_columns,
                         selected=selected, reference=reference, floors=floors)


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
    box = study_box(data)
    if box is None:
        return
    numbers, volumes = normalised_curve(data, box)
    recorded = recorded_values(data, box)
    st.plotly_chart(hypervolume_figure(numbers, volumes, recorded), width="stretch", key="hv")
    st.caption(_reference_text(box) + f" Final hypervolume {volumes[-1]:.4f}.")


def _reference_text(box: Box) -> str:
    corner = box.values(box.reference)[0]
    shown = ", ".join(f"{o} = {format_value(o, v)}" for o, v in zip(box.objectives, corner))
    origin = ("fixed by the search when its first trial completed; each dot is the value that "
              "trial recorded" if box.recorded else
              "by the search's rule from the first complete trial: this study's search recorded "
              "no box")
    return (f"Reference point: {shown} ({origin}; the grey × on the Pareto plot). "
            "Accuracy runs from 100% down to its floor (the study file's `floor`, else the "
            "task's chance level); other objectives from the first trial's value less its "
            "magnitude to the value doubled.")


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
    if len(data.complete) < FEW_TRIALS:
        st.warning(f"Only {len(data.complete)} complete trials: fANOVA's forest fits so few points "
                   f"loosely, and the ranking below can change completely as trials arrive. Read it "
                   f"as a hint until there are about {FEW_TRIALS}.")
    importances = _cached_importance(storage_url(), data.name, data.fingerprint, objective)
    # Horizontal: Streamlit's x_label names the vertical axis (the choices).
    st.bar_chart(importances, horizontal=True, x_label="choice",
                 y_label="share of the variance explained")
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
        box = study_box(data)
        rows = done[pareto_mask(done[data.objectives].to_numpy(), data.directions,
                                box.floors() if box else None)]
    if text:
        rows = rows[_matches(rows, text)]
    columns = ["number", "state", *data.objectives, "fidelity", *data.choice_columns,
               "duration_s", "datetime_complete"]
    shown = rows[[c for c in dict.fromkeys(columns) if c in rows.columns]]
    shown = shown.rename(columns={c: c.removeprefix("param_") for c in data.choice_columns})
    sort_by = st.selectbox("Sort by", list(shown.columns), index=0, key="table_sort")
    descending = st.toggle("Descending", key="table_desc")
    shown = shown.sort_values(sort_by, ascending=not descending, kind="stable")
    # On screen each metric in its display unit, named in the header; the CSV keeps the
    # stored values (accuracy as a fraction), as `nas show --format csv` does.
    metrics = [*data.objectives, "duration_s"]
    formats = {axis_label(m): st.column_config.NumberColumn(
        format="%.2f" if unit_symbol(m) == "%" else "%.4g") for m in metrics}
    st.dataframe(display_frame(shown, metrics), hide_index=True, width="stretch", height=420,
                 column_config=formats)
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
