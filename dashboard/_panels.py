"""Page pieces shared by several pages: the study picker and the architecture panel.

The chosen study and trial travel between pages in session state
(``current_study``, ``current_trial``) and in the URL (``?study=…&trial=…``),
so a link to a trial can be shared and survives a browser refresh.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from dashboard._data import StudyData, arch_of, storage_url, studies_or_stop, study_or_stop
from dashboard._diagram import cell_edges, cell_figure, diagram_figure, layer_blocks
from dashboard._units import format_value, unit_symbol
from nas.units import metric_unit

__all__ = ["pick_study", "pick_trial", "architecture_panel", "run_live", "FIDELITY_NAMES"]

FIDELITY_NAMES = {
    "tabular": "tabular lookup (exact benchmark accuracy)",
    "proxy": "zero-cost proxy (no training)",
    "supernet": "supernet (inherited weights)",
    "train": "trained",
}

# Trial attr where the worker lists the choices an architecture does not use
# (nas.search.worker.INACTIVE_CHOICES_ATTR; the dashboard imports no worker code).
INACTIVE_CHOICES_ATTR = "inactive_choices"
# Attrs that are bookkeeping rather than results: not shown as metrics.
_NOT_METRICS = {"trial_id", "number", "state", "datetime_start", "datetime_complete", "arch",
                "arch_key", "metrics", "fidelity", "evaluator", "nas_skipped",
                INACTIVE_CHOICES_ATTR}


def pick_study(label: str = "Study") -> StudyData | None:
    """A study selectbox (from the URL, the last page, or the first study); its data, or None."""
    url = storage_url()
    studies = studies_or_stop(url)
    if studies.empty:
        st.info("This storage has no studies yet: run `nas search STUDY_FILE` and they appear here.")
        return None
    names = list(studies.study_name)
    wanted = st.query_params.get("study") or st.session_state.get("current_study")
    index = names.index(wanted) if wanted in names else 0
    name = st.selectbox(label, names, index=index)
    if name != st.session_state.get("current_study"):
        st.session_state.pop("current_trial", None)
    st.session_state["current_study"] = name
    st.query_params["study"] = name
    return study_or_stop(url, name)


def pick_trial(data: StudyData) -> int | None:
    """A selectbox over the complete trials (best first); the chosen number, or None."""
    complete = data.complete
    if complete.empty:
        return None
    first = data.objectives[0]
    best_first = complete.sort_values(first, ascending=data.directions[0] == "minimize")
    numbers = [int(n) for n in best_first.number]
    wanted = st.query_params.get("trial", st.session_state.get("current_trial"))
    wanted = int(wanted) if wanted is not None and str(wanted).isdigit() else None
    index = numbers.index(wanted) if wanted in numbers else 0
    values = dict(zip(best_first.number, best_first[first]))
    number = st.selectbox("Trial", numbers, index=index,
                          format_func=lambda n: f"trial {n} ({first} = {format_value(first, values[n])})")
    st.session_state["current_trial"] = number
    st.query_params["trial"] = str(number)
    return number


def architecture_panel(data: StudyData, number: int, *, compact: bool = False) -> None:
    """A trial's choices, metrics, fidelity and layer drawing."""
    rows = data.trials[data.trials.number == number]
    if rows.empty:
        st.warning(f"trial {number} is not in study {data.name}")
        return
    row = rows.iloc[0]
    arch = arch_of(row, data.choice_columns)
    unused = _inactive_choices(row)
    fidelity = row.get("fidelity")
    fidelity_text = FIDELITY_NAMES.get(str(fidelity), str(fidelity)) if _present(fidelity) else "unknown"
    st.markdown(f"**Trial {number}** · state {row.state} · fidelity: **{fidelity_text}**"
                + (f" · evaluator `{row['evaluator']}`" if _present(row.get("evaluator")) else ""))
    left, right = st.columns(2)
    # The full page shows every metric; the panel under the Pareto plot scrolls instead.
    height = "auto" if compact else "content"
    with left:
        st.caption("Choices" + (f" (not used by this architecture, so not shown: "
                                f"{', '.join(unused)})" if unused else ""))
        used = {k: v for k, v in arch.items() if k not in unused}
        st.dataframe(pd.DataFrame({"choice": list(used), "value": [_text(v) for v in used.values()]}),
                     hide_index=True, width="stretch", height=height)
    with right:
        st.caption("Metrics and recorded attributes")
        st.dataframe(_metric_table(_metrics_of(row, data)), hide_index=True,
                     width="stretch", height=height)
    blocks = layer_blocks({k: v for k, v in arch.items() if k not in unused},
                          data.info.get("space"))
    st.plotly_chart(diagram_figure(blocks, per_row=7 if compact else 8), width="stretch",
                    key=f"diagram-{data.name}-{number}-{compact}")
    edges = cell_edges(arch)
    if edges is not None:
        st.caption("The searched cell: nodes are feature maps, each edge applies its op, and a "
                   "node sums its incoming edges (dashed: `none`, no connection).")
        st.plotly_chart(cell_figure(edges), width="stretch", key=f"cell-{data.name}-{number}-{compact}")


def _metrics_of(row: pd.Series, data: StudyData) -> dict[str, Any]:
    metrics: dict[str, Any] = {o: row.get(o) for o in data.objectives}
    raw = row.get("metrics")
    if isinstance(raw, str) and raw.startswith("{"):
        metrics.update(json.loads(raw))
    for key, value in row.items():
        if (key in _NOT_METRICS or str(key).startswith("param_") or key in metrics
                or not _present(value)):
            continue
        metrics[str(key)] = value
    return {k: v for k, v in metrics.items() if _present(v)}


def _metric_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """metric | value | unit: each value in its display unit (accuracy in %, latency in ms, …)."""
    values = [metric_unit(m).format(v) if _is_number(v) and metric_unit(m).label else _text(v)
              for m, v in metrics.items()]
    return pd.DataFrame({"metric": list(metrics), "value": values,
                         "unit": [unit_symbol(m) if _is_number(v) else "" for m, v in metrics.items()]})


def _inactive_choices(row: pd.Series) -> list[str]:
    """The choices the search recorded as unused by this architecture (``SearchSpace.active_choices``)."""
    raw = row.get(INACTIVE_CHOICES_ATTR)
    if isinstance(raw, str) and raw.startswith("["):
        raw = json.loads(raw)
    return [str(name) for name in raw] if isinstance(raw, (list, tuple)) else []


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _present(value: Any) -> bool:
    if value is None:
        return False
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):
        return True


def run_live(render: Any) -> None:
    """Run ``render`` as a fragment that reruns every few seconds while live refresh is on."""
    every = st.session_state.get("refresh_s", 5) if st.session_state.get("live_refresh", True) else None
    st.fragment(render, run_every=every)()
