"""The Compare page: Pareto fronts of several studies overlaid on shared objectives."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest


def _front_numbers(study: optuna.Study, indices: tuple[int, int]) -> list[int]:
    """Non-dominated complete trials on two objectives (accuracy up, params down), by brute
    force, among the models above chance accuracy (the task's 1 / num_classes)."""
    floor = 1.0 / study.user_attrs["num_classes"]
    points = [(t.number, t.values[indices[0]], t.values[indices[1]]) for t in study.trials
              if t.state == optuna.trial.TrialState.COMPLETE and t.values[indices[0]] > floor]
    front = []
    for number, accuracy, params in points:
        dominated = any(a >= accuracy and p <= params and (a > accuracy or p < params)
                        for _, a, p in points)
        if not dominated:
            front.append(number)
    return sorted(front)


def test_overlays_the_fronts_of_two_studies(dashboard_store, open_page, chart_traces):
    app = open_page(dashboard_store, "compare")
    assert not app.exception
    chosen = app.multiselect(key="compare_studies").value
    assert sorted(chosen) == ["nb201-three", "nb201-two"]
    assert (app.selectbox(key="compare_x").value, app.selectbox(key="compare_y").value) == (
        "params", "val_accuracy")
    traces = {t["name"]: t for t in chart_traces(app)}
    summary = app.dataframe[0].value.set_index("study")
    for name in chosen:
        study = optuna.load_study(study_name=name, storage=dashboard_store)
        expected = _front_numbers(study, (0, 1))
        assert summary.loc[name, "Pareto points"] == len(expected)
        assert len(traces[name]["x"]) == len(expected)
        assert summary.loc[name, "complete"] == len(study.get_trials(
            states=[optuna.trial.TrialState.COMPLETE]))  # re-proposals are PRUNED
    volumes = summary["hypervolume"]
    assert np.isfinite(volumes).all() and (volumes > 0).all() and (volumes <= 1).all()
    # The same figure as each study's own Study page, and as its last trial recorded.
    for name in chosen:
        study_page = open_page(dashboard_store, "study", study=name)
        headline = next(m for m in study_page.metric if m.label == "hypervolume")
        assert f"{volumes[name]:.4f}" == headline.value
        study = optuna.load_study(study_name=name, storage=dashboard_store)
        last = max((t for t in study.trials if t.values), key=lambda t: t.number)
        assert volumes[name] == pytest.approx(last.user_attrs["hypervolume"], rel=1e-9)
    # Axes and hovers in display units.
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["yaxis"]["title"]["text"] == "val_accuracy (%) · higher is better"
    assert all(0.1 * 100 < y <= 100 for t in traces.values() for y in t["y"])
    assert "val_accuracy = " in traces["nb201-two"]["hovertext"][0]


def test_one_study_and_no_study(dashboard_store, open_page, page_texts):
    app = open_page(dashboard_store, "compare")
    app.multiselect(key="compare_studies").set_value(["nb201-two"]).run()
    assert not app.exception
    assert len(app.dataframe[0].value) == 1
    app.multiselect(key="compare_studies").set_value([]).run()
    assert any("Pick studies" in t for t in page_texts(app, "info"))


def test_missing_storage_file_shows_a_message(open_page, page_texts, tmp_path):
    app = open_page(f"sqlite:///{tmp_path / 'nowhere.db'}", "compare")
    assert not app.exception
    assert any("No study database yet" in text for text in page_texts(app, "warning"))
