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
    table = pd.DataFrame({
        "study": studies.study_name,
        "space": _column(studies, "space"),
        "task": _column(studies, "task"),
        "sampler": _column(studies, "sampler"),
        "objectives": [", ".join(f"{o} ({d[:3]})" for o, d in zip(_objectives(r), r.directions))
                       for r in studies.itertuples()],
        "best values": [_best_values(r, ranges) for r in studies.itertuples()],
        "complete": studies.complete,
        "running": studies.running,
        "failed": studies.fail,
        "last update": studies.last_update,
        "family": _column(studies, "family"),
    })
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"last update": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})
    st.caption(f"{len(table)} {'study' if len(table) == 1 else 'studies'} · "
               f"{int(studies.running.sum())} trials running now")
    st.subheader("Open a study")
    columns = st.columns(min(4, len(table)))
    for i, name in enumerate(table.study):
        with columns[i % len(columns)]:
            st.page_link("views/study.py", label=f"Open {name}", query_params={"study": name})


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
        if i in mine.index:
            value = mine.loc[i, "high" if direction == "maximize" else "low"]
            parts.append(f"{name} {format_value(name, value)}")
    return ", ".join(parts)


st.title("Studies")
run_live(render)
