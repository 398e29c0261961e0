"""Compare: Pareto fronts of several studies on shared objectives, each with its hypervolume."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard._data import StudyData, storage_url, studies_or_stop, study_or_stop
from dashboard._hypervolume import EXPLANATION, final_hypervolume, study_box
from dashboard._plots import compare_figure
from nas.dominance import pareto_mask


def render() -> None:
    url = storage_url()
    studies = studies_or_stop(url)
    multi = studies[studies.directions.map(len) >= 2]
    if len(multi) < 1:
        st.info("No multi-objective studies in this storage yet.")
        return
    names = list(multi.study_name)
    chosen = st.multiselect("Studies", names, default=names[:2], key="compare_studies")
    if not chosen:
        st.info("Pick studies to compare.")
        return
    loaded = {name: study_or_stop(url, name) for name in chosen}
    directions: dict[str, str] = {}
    for data in loaded.values():
        for objective, direction in zip(data.objectives, data.directions):
            directions.setdefault(objective, direction)
    shared = [o for o in directions if all(o in d.objectives for d in loaded.values())]
    if len(shared) < 2:
        st.warning("These studies share fewer than two objectives: nothing to overlay.")
        return
    left, right = st.columns(2)
    x = left.selectbox("x axis", shared, index=1, key="compare_x")
    y = right.selectbox("y axis", [o for o in shared if o != x], key="compare_y")
    fronts = {name: _front(d, x, y) for name, d in loaded.items()}
    columns = st.columns(min(len(loaded), 4))
    for i, (name, data) in enumerate(loaded.items()):
        volume = final_hypervolume(data)
        columns[i % len(columns)].metric(f"hypervolume · {name}",
                                         f"{volume:.4f}" if volume == volume else "–",
                                         help=EXPLANATION)
    st.plotly_chart(compare_figure(fronts, x, y, directions), width="stretch", key="compare")
    st.dataframe(_summary(loaded, fronts), hide_index=True, width="stretch",
                 column_config={"hypervolume": st.column_config.NumberColumn(
                     format="%.4f", help=EXPLANATION)})
    st.caption(f"{EXPLANATION} Each study is measured in its own box, on all its objectives "
               "(the same number as on its Study page); two studies compare directly where their "
               "objectives and boxes agree.")
    for name, data in loaded.items():
        box = study_box(data)
        if box is not None:
            st.caption(f"Box of **{name}** (ideal → reference): {box.describe()}")


def _front(data: StudyData, x: str, y: str) -> pd.DataFrame:
    """The study's Pareto front on (x, y), with its accuracy floor, as on its Study page."""
    complete = data.complete
    box = study_box(data)
    floors = box.floors([x, y]) if box is not None else None
    directions = dict(zip(data.objectives, data.directions))
    return complete[pareto_mask(complete[[x, y]].to_numpy(), [directions[x], directions[y]],
                                floors)]


def _summary(loaded: dict[str, StudyData], fronts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for name, data in loaded.items():
        rows.append({
            "study": name, "sampler": data.info.get("sampler", ""),
            "complete": len(data.complete), "Pareto points": len(fronts[name]),
            "objectives": len(data.objectives), "hypervolume": final_hypervolume(data),
        })
    return pd.DataFrame(rows)


st.title("Compare")
render()
