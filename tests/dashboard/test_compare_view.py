"""The Compare page: Pareto fronts of several studies overlaid on shared objectives."""

from __future__ import annotations

import numpy as np
import optuna


def _front_numbers(study: optuna.Study, indices: tuple[int, int]) -> list[int]:
    """Non-dominated complete trials on two objectives (accuracy up, params down), by brute force."""
    points = [(t.number, t.values[indices[0]], t.values[indices[1]]) for t in study.trials
              if t.state == optuna.trial.TrialState.COMPLETE]
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
    volumes = summary["hypervolume (common reference)"]
    assert np.isfinite(volumes).all() and (volumes > 0).all()


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
