"""Compare: Pareto fronts of several studies on shared objectives, with a common hypervolume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard._data import storage_url, studies_or_stop, study_or_stop
from dashboard._hypervolume import hypervolume, reference_point, to_losses
from dashboard._plots import compare_figure
from nas.store import pareto_front


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
    fronts = {name: pareto_front(d.complete, [x, y], [directions[x], directions[y]])
              for name, d in loaded.items()}
    st.plotly_chart(compare_figure(fronts, x, y, directions), width="stretch", key="compare")
    st.dataframe(_summary(loaded, fronts, x, y, directions), hide_index=True, width="stretch",
                 column_config={"hypervolume (common reference)":
                                st.column_config.NumberColumn(format="%.4g")})


def _summary(loaded, fronts, x, y, directions) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    # One reference point for all studies, so their hypervolumes compare.
    dirs = [directions[x], directions[y]]
    every = pd.concat([d.complete[[x, y]] for d in loaded.values()]).dropna()
    reference = reference_point(to_losses(every.to_numpy(), dirs)) if len(every) else None
    rows = []
    for name, data in loaded.items():
        losses = to_losses(fronts[name][[x, y]].to_numpy(), dirs)
        rows.append({
            "study": name, "sampler": data.info.get("sampler", ""),
            "complete": len(data.complete), "Pareto points": len(fronts[name]),
            "hypervolume (common reference)": hypervolume(losses, reference)
            if reference is not None and len(losses) else np.nan,
        })
    return pd.DataFrame(rows)


st.title("Compare")
render()
