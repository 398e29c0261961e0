"""Studies: every study in the storage with its setup, progress and best values (live)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard._data import engine_or_stop, storage_url, studies_or_stop
from dashboard._panels import run_live
from dashboard._units import format_value
from nas.store import objective_ranges


def render() -> None:
    url = storage_url()
    studies = studies_or_stop(url)
    if studies.empty:
        st.info("This storage has no studies yet: run `nas search STUDY_FILE` and they appear here.")
        return
    ranges = objective_ranges(engine_or_stop(url))
    best = [_best_values(r, ranges) for r in studies.itertuples()]
    table = pd.DataFrame({
        "study": studies.study_name,
        "family": _column(studies, "family"),
        "space": _column(studies, "space"),
        "task": _column(studies, "task"),
        "sampler": _column(studies, "sampler"),
        "complete": studies.complete,
        "running": studies.running,
        "failed": studies.fail,
        "last update": studies.last_update,
    })
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"last update": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})
    st.caption(f"{len(table)} {'study' if len(table) == 1 else 'studies'} · "
               f"{int(studies.running.sum())} trials running now")
    st.subheader("Open a study")
    # Objectives and best values beside each link (wrapped), rather than a column too
    # wide for the table.
    columns = st.columns(min(3, len(table)))
    for i, (name, values) in enumerate(zip(table.study, best)):
        with columns[i % len(columns)]:
            st.page_link("views/study.py", label=f"Open {name}", query_params={"study": name})
            st.caption(f"Best: {values}")
    st.caption("↑ higher is better, ↓ lower is better; each metric in its display unit.")


def _column(studies: pd.DataFrame, name: str) -> pd.Series:
    if name not in studies.columns:
        return pd.Series([""] * len(studies))
    return studies[name].fillna("").astype(str)


def _objectives(row) -> list[str]:  # type: ignore[no-untyped-def]
    objectives = getattr(row, "objectives", None)
    if isinstance(objectives, list):
        return objectives
    return [f"value_{i}" for i in range(len(row.directions))]


def _best_values(row, ranges: pd.DataFrame) -> str:  # type: ignore[no-untyped-def]
    mine = ranges[ranges.study_id == row.study_id].set_index("objective")
    parts = []
    for i, (name, direction) in enumerate(zip(_objectives(row), row.directions)):
        arrow = "↑" if direction == "maximize" else "↓"
        best = (format_value(name, mine.loc[i, "high" if direction == "maximize" else "low"])
                if i in mine.index else "–")
        parts.append(f"{name} {arrow} {best}")
    return ", ".join(parts)


st.title("Studies")
run_live(render)
