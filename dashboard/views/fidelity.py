"""Fidelity: proxy vs supernet vs trained scores, with Spearman and Kendall for each pair."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard._fidelity import (
    default_scores,
    rank_agreement,
    score_columns,
    scores_by_architecture,
)
from dashboard._panels import pick_study
from dashboard._units import axis_label, to_display


def render() -> None:
    data = pick_study()
    if data is None:
        return
    columns = score_columns(data.complete)
    if len(columns) < 2:
        st.info(f"Study **{data.name}** records fewer than two numeric scores per trial; "
                "fidelity comparisons need e.g. a proxy score and a trained accuracy.")
        return
    scores = st.multiselect("Scores to compare", columns, default=default_scores(columns),
                            key="fidelity_scores")
    if len(scores) < 2:
        st.info("Pick at least two scores.")
        return
    by_arch = scores_by_architecture(data.trials, scores)
    several = by_arch[by_arch.notna().sum(axis=1) >= 2]
    if len(several) < 3:
        st.info(f"Only {len(several)} architectures have two or more of these scores; "
                "correlations need at least 3.")
        return
    agreement = rank_agreement(several)
    st.dataframe(agreement, hide_index=True, width="stretch",
                 column_config={"spearman": st.column_config.NumberColumn(format="%.3f"),
                                "kendall": st.column_config.NumberColumn(format="%.3f")})
    st.caption(f"{len(several)} architectures with two or more scores. Rank correlations: 1 means "
               "the cheap score orders architectures exactly as the expensive one.")
    st.plotly_chart(_scatter(several.reset_index(drop=True), scores), width="stretch",
                    key="fidelity_matrix")


def _scatter(by_arch, scores: list[str]):  # type: ignore[no-untyped-def]
    """One scatter for two scores; the lower triangle of a scatter matrix for more (in display units)."""
    by_arch = by_arch.assign(**{s: to_display(s, by_arch[s]) for s in scores})
    labels = {s: axis_label(s) for s in scores}
    if len(scores) == 2:
        figure = px.scatter(by_arch, x=scores[0], y=scores[1], height=420, labels=labels)
        figure.update_traces(marker={"size": 6, "opacity": 0.7})
        return figure
    figure = px.scatter_matrix(by_arch, dimensions=scores, height=160 + 170 * len(scores),
                               labels=labels)
    figure.update_traces(diagonal_visible=False, showupperhalf=False,
                         marker={"size": 4, "opacity": 0.6})
    return figure


st.title("Fidelity")
render()
