"""The Study page on real searched studies: Pareto fronts, hypervolume, history, choices, table."""

from __future__ import annotations

import re
import sqlite3

import numpy as np
import optuna
import pandas as pd
import pytest

from nas.store import sqlite_path


@pytest.fixture(scope="module")
def two_objective_study(dashboard_store: str) -> optuna.Study:
    return optuna.load_study(study_name="nb201-two", storage=dashboard_store)


def _trace(traces: list[dict], name: str) -> dict:
    return next(t for t in traces if t.get("name") == name)


def test_pareto_front_is_the_studys_non_dominated_set(
    dashboard_store, open_page, page_texts, chart_traces, two_objective_study
):
    app = open_page(dashboard_store, "study", study="nb201-two")
    assert not app.exception
    best = sorted(t.number for t in two_objective_study.best_trials)
    complete = len(two_objective_study.get_trials(states=[optuna.trial.TrialState.COMPLETE]))
    assert f"{len(best)} Pareto-optimal of {complete} complete trials" in " ".join(
        page_texts(app, "caption"))
    traces = chart_traces(app)
    front = _trace(traces, "Pareto front")
    assert sorted(front["customdata"].tolist()) == best
    # Every other complete trial is drawn faded, exactly once; those hidden under a
    # Pareto marker take no hover or click (the red marker gets them).
    dominated = [n for t in traces if t["name"].startswith("dominated") for n in t["customdata"]]
    assert sorted(dominated + best) == sorted(
        t.number for t in two_objective_study.trials if t.values)
    assert all(t["hoverinfo"] == "skip" for t in traces if "under the front" in t["name"])
    # Default axes: x = the cost (params), y = the accuracy; hover names the architecture.
    by_number = {t.number: t for t in two_objective_study.trials}
    number = int(front["customdata"][0])
    assert front["x"][0] == by_number[number].values[1]
    assert front["y"][0] == by_number[number].values[0]
    assert f"edge_0={by_number[number].params['edge_0']}" in front["hovertext"][0]


def test_swapping_axes_redraws_the_front(dashboard_store, open_page, chart_traces):
    app = open_page(dashboard_store, "study", study="nb201-two")
    app.selectbox(key="pareto_x").set_value("val_accuracy").run()
    assert not app.exception
    front = _trace(chart_traces(app), "Pareto front")
    assert (np.diff(front["x"]) >= 0).all()  # sorted along x = val_accuracy
    assert app.selectbox(key="pareto_y").value == "params"


def test_a_selected_pareto_point_shows_its_architecture(
    dashboard_store, open_page, page_texts, two_objective_study
):
    chosen = two_objective_study.best_trials[0]
    app = open_page(dashboard_store, "study", study="nb201-two")
    app.session_state["current_trial"] = chosen.number
    app.run()
    assert not app.exception
    assert any(text.startswith(f"**Trial {chosen.number}**") for text in page_texts(app, "markdown"))
    choices = app.dataframe[0].value.set_index("choice")["value"].to_dict()
    assert choices == {name: str(value) for name, value in chosen.params.items()}
    links = [link.proto for link in app.get("page_link")]
    assert links[0].page == "architecture"
    assert links[0].query_string == f"study=nb201-two&trial={chosen.number}"


def test_three_objectives_get_a_3d_front(dashboard_store, open_page, chart_traces):
    study = optuna.load_study(study_name="nb201-three", storage=dashboard_store)
    app = open_page(dashboard_store, "study", study="nb201-three")
    assert not app.exception
    traces = chart_traces(app, 0)
    assert {t["type"] for t in traces} == {"scatter3d"}
    front = _trace(traces, "Pareto front")
    assert sorted(front["customdata"].tolist()) == sorted(t.number for t in study.best_trials)
    # The 2-D view below projects onto two of the three objectives.
    assert app.selectbox(key="pareto_x").options == ["val_accuracy", "params", "edgegpu_latency"]


def test_hypervolume_curve_matches_what_each_trial_recorded(
    dashboard_store, open_page, page_texts, chart_traces, two_objective_study
):
    app = open_page(dashboard_store, "study", study="nb201-two")
    assert app.radio(key="study_view").value == "Hypervolume"
    ours, recorded = chart_traces(app, 1)
    assert (ours["name"], recorded["name"]) == ("hypervolume", "recorded by the search")
    assert (np.diff(ours["y"]) >= 0).all() and ours["y"][-1] > ours["y"][0]
    # The worker stored each trial's hypervolume (nas.hypervolume) against the
    # reference the search fixed; the dashboard uses that point, so the curves agree.
    last = max((t for t in two_objective_study.trials if t.values), key=lambda t: t.number)
    assert ours["y"][-1] == pytest.approx(last.user_attrs["hypervolume"], rel=1e-9)
    caption = _reference_caption(app, page_texts)
    assert "fixed by the search" in caption
    shown = _numbers(caption)
    stored = two_objective_study.user_attrs["hypervolume_reference"]  # as losses
    assert shown == pytest.approx({"val_accuracy": -stored[0], "params": stored[1]}, rel=1e-3)
    final = float(re.search(r"Final hypervolume ([-+0-9.e]*[0-9])", caption).group(1))
    assert final == pytest.approx(ours["y"][-1], rel=1e-3)


def test_without_a_stored_reference_it_lies_beyond_every_trial(
    dashboard_store, open_page, page_texts, two_objective_study, tmp_path
):
    # A study from a search that kept no reference point.
    path = tmp_path / "old.db"
    with sqlite3.connect(sqlite_path(dashboard_store)) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
        copy.execute("DELETE FROM study_user_attributes WHERE key = 'hypervolume_reference'")
    app = open_page(f"sqlite:///{path}", "study", study="nb201-two")
    caption = _reference_caption(app, page_texts)
    assert "worst observed value" in caption
    reference = _numbers(caption)
    values = np.array([t.values for t in two_objective_study.trials if t.values])
    assert reference["val_accuracy"] < values[:, 0].min()
    assert reference["params"] > values[:, 1].max()


def test_the_pareto_plot_follows_a_running_search(
    dashboard_store, open_page, page_texts, chart_traces, tmp_path
):
    # The figure is shared between sessions while the study is unchanged: a trial
    # that finishes must still reach the plot on the next refresh.
    path = tmp_path / "growing.db"
    with sqlite3.connect(sqlite_path(dashboard_store)) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    url = f"sqlite:///{path}"
    app = open_page(url, "study", study="nb201-two")
    before = _trace(chart_traces(app), "Pareto front")["customdata"].tolist()
    app.run()  # a refresh with nothing new: the same front
    assert _trace(chart_traces(app), "Pareto front")["customdata"].tolist() == before
    study = optuna.load_study(study_name="nb201-two", storage=url)
    finished = study.trials[0]
    study.add_trial(optuna.trial.create_trial(
        params=finished.params, distributions=finished.distributions, values=[99.0, 1.0]))
    number = max(t.number for t in study.get_trials(deepcopy=False))
    app.run()
    assert not app.exception
    # It dominates every other trial: the front is that one trial now.
    assert _trace(chart_traces(app), "Pareto front")["customdata"].tolist() == [number]
    assert any(t.startswith("1 Pareto-optimal of") for t in page_texts(app, "caption"))


def _reference_caption(app, page_texts) -> str:  # type: ignore[no-untyped-def]
    return next(t for t in page_texts(app, "caption") if t.startswith("Reference point"))


def _numbers(caption: str) -> dict[str, float]:
    return {name: float(value) for name, value in
            re.findall(r"(\w+) = ([-+0-9.e]*[0-9])", caption.split("(")[0])}


def test_history_shows_the_best_so_far(dashboard_store, open_page, chart_traces,
                                       two_objective_study):
    app = open_page(dashboard_store, "study", study="nb201-two")
    app.radio(key="study_view").set_value("History").run()
    app.selectbox(key="history_objective").set_value("params").run()
    assert not app.exception
    best = _trace(chart_traces(app, 1), "best so far")
    assert best["y"][-1] == min(t.values[1] for t in two_objective_study.trials if t.values)
    assert (np.diff(best["y"]) <= 0).all()


def test_choices_are_parallel_coordinates(dashboard_store, open_page, chart_traces):
    app = open_page(dashboard_store, "study", study="nb201-two")
    app.radio(key="study_view").set_value("Choices").run()
    assert not app.exception
    (parallel,) = chart_traces(app, 1)
    labels = [d["label"] for d in parallel["dimensions"]]
    assert labels == [f"edge_{i}" for i in range(6)] + ["val_accuracy"]


def test_importance_ranks_every_choice(dashboard_store, open_page, page_texts):
    app = open_page(dashboard_store, "study", study="nb201-two")
    app.radio(key="study_view").set_value("Importance").run()
    assert not app.exception
    assert app.get("vega_lite_chart")
    assert any("fANOVA" in text for text in page_texts(app, "caption"))


def test_trial_table_filters_sorts_and_downloads(
    dashboard_store, open_page, page_texts, two_objective_study
):
    app = open_page(dashboard_store, "study", study="nb201-two")
    app.radio(key="study_view").set_value("Trials").run()
    table: pd.DataFrame = app.dataframe[0].value
    # The table starts on COMPLETE trials (re-proposed architectures are PRUNED, unevaluated).
    assert len(table) == len(two_objective_study.get_trials(
        states=[optuna.trial.TrialState.COMPLETE]))
    assert {"number", "val_accuracy", "params", "fidelity", "edge_0"} <= set(table.columns)
    app.checkbox(key="table_front").check().run()
    assert sorted(app.dataframe[0].value.number) == sorted(
        t.number for t in two_objective_study.best_trials)
    app.checkbox(key="table_front").uncheck()
    op = two_objective_study.trials[0].params["edge_0"]
    app.text_input(key="table_filter").input(f"edge_0={op}").run()
    filtered = app.dataframe[0].value
    expected = [t.number for t in two_objective_study.trials
                if t.params["edge_0"] == op and t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(filtered.number) == sorted(expected)
    app.text_input(key="table_filter").input("").run()
    app.selectbox(key="table_sort").set_value("val_accuracy").run()
    app.toggle(key="table_desc").set_value(True).run()
    ordered = app.dataframe[0].value.val_accuracy.to_numpy()
    assert (np.diff(ordered) <= 0).all()
    assert app.get("download_button")[0].proto.label == "Download CSV"
    assert f"{len(ordered)} of {len(two_objective_study.trials)} trials" in page_texts(app, "caption")


def test_empty_study_says_it_has_no_trials_yet(dashboard_store, open_page, page_texts):
    app = open_page(dashboard_store, "study", study="empty-study")
    assert not app.exception
    assert [m.value for m in app.metric] == ["0", "0", "0", "2"]
    assert any("no complete trials yet" in text for text in page_texts(app, "info"))
    assert not app.get("plotly_chart")


def test_missing_storage_file_shows_a_message(open_page, page_texts, tmp_path):
    app = open_page(f"sqlite:///{tmp_path / 'nowhere.db'}", "study", study="nb201-two")
    assert not app.exception
    assert any("No study database yet" in text for text in page_texts(app, "warning"))
