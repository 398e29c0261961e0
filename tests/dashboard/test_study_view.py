"""The Study page on real searched studies: Pareto fronts, hypervolume, history, choices, table."""

from __future__ import annotations

import base64
import json
import re
import sqlite3

import numpy as np
import optuna
import pandas as pd
import pytest

from dashboard._plots import parallel_figure
from nas.store import sqlite_path


@pytest.fixture(scope="module")
def two_objective_study(dashboard_store: str) -> optuna.Study:
    return optuna.load_study(study_name="nb201-two", storage=dashboard_store)


def _trace(traces: list[dict], name: str) -> dict:
    return next(t for t in traces if t.get("name") == name)


def _floor(study: optuna.Study) -> float:
    """The accuracy floor: the task's chance level, recorded by the search (CIFAR-10: 10 %)."""
    return 1.0 / study.user_attrs["num_classes"]


def test_pareto_front_is_the_studys_non_dominated_set_above_chance(
    dashboard_store, open_page, page_texts, chart_traces, two_objective_study
):
    app = open_page(dashboard_store, "study", study="nb201-two")
    assert not app.exception
    floor = _floor(two_objective_study)
    assert floor == 0.1
    # Optuna's front less the models at or below chance (an accuracy floor cannot
    # promote another point: whatever dominates a model above it is above it too).
    best = sorted(t.number for t in two_objective_study.best_trials if t.values[0] > floor)
    assert any(t.values[0] <= floor for t in two_objective_study.best_trials)  # a real exclusion
    complete = len(two_objective_study.get_trials(states=[optuna.trial.TrialState.COMPLETE]))
    captions = " ".join(page_texts(app, "caption"))
    assert f"{len(best)} Pareto-optimal of {complete} complete trials" in captions
    assert "Models at or below the val_accuracy floor (10.00%) cannot join the front" in captions
    traces = chart_traces(app)
    front = _trace(traces, "Pareto front")
    assert sorted(front["customdata"].tolist()) == best
    # Every other complete trial is drawn faded, exactly once; those hidden under a
    # Pareto marker take no hover or click (the red marker gets them).
    dominated = [n for t in traces if t["name"].startswith("dominated") for n in t["customdata"]]
    assert sorted(dominated + best) == sorted(
        t.number for t in two_objective_study.trials if t.values)
    assert all(t["hoverinfo"] == "skip" for t in traces if "under the front" in t["name"])
    # Default axes: x = the cost (params, in M params), y = the accuracy (in %); the
    # hover names the trial's objective values with units, then its architecture.
    by_number = {t.number: t for t in two_objective_study.trials}
    number = int(front["customdata"][0])
    accuracy, params = by_number[number].values
    assert front["x"][0] == pytest.approx(params / 1e6)
    assert front["y"][0] == pytest.approx(100 * accuracy)
    hover = front["hovertext"][0]
    assert f"val_accuracy = {100 * accuracy:.2f}%" in hover
    assert f"params = {params / 1e6:.4g} M params" in hover
    assert f"edge_0={by_number[number].params['edge_0']}" in hover
    layout = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]
    assert layout["xaxis"]["title"]["text"] == "M params · lower is better"
    assert layout["yaxis"]["title"]["text"] == "val_accuracy (%) · higher is better"


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


def test_hypervolume_is_normalised_and_every_trial_recorded_the_curve(
    dashboard_store, open_page, page_texts, chart_traces, two_objective_study
):
    app = open_page(dashboard_store, "study", study="nb201-two")
    assert app.radio(key="study_view").value == "Hypervolume"
    ours, recorded = chart_traces(app, 1)
    assert (ours["name"], recorded["name"]) == ("hypervolume", "recorded by each trial")
    assert (np.diff(ours["y"]) >= 0).all() and 0 < ours["y"][0] < ours["y"][-1] <= 1
    # Each trial stored the study's hypervolume once it completed, in the box the
    # search fixed; the page's curve is the same figure at every trial.
    curve = dict(zip(ours["x"].tolist(), ours["y"].tolist()))
    stored = {t.number: t.user_attrs["hypervolume"] for t in two_objective_study.trials if t.values}
    assert sorted(curve) == sorted(stored) == recorded["x"].tolist()
    for number, value in stored.items():
        assert curve[number] == pytest.approx(value, rel=1e-9, abs=1e-12)
    # The reference point as a user reads it: the accuracy floor in %, params in M params.
    caption = _reference_caption(app, page_texts)
    assert "fixed by the search" in caption and "-0" not in caption
    reference = two_objective_study.user_attrs["hypervolume_reference"]  # as losses
    assert _numbers(caption) == pytest.approx(
        {"val_accuracy": 100 * -reference[0], "params": reference[1] / 1e6}, rel=1e-3)
    assert _numbers(caption)["val_accuracy"] == pytest.approx(10.0)
    final = float(re.search(r"Final hypervolume ([0-9]+\.[0-9]+)", caption).group(1))
    assert final == pytest.approx(ours["y"][-1], abs=1e-4)
    # The headline figure, with its one-line explanation beside it.
    headline = next(m for m in app.metric if m.label == "hypervolume")
    assert float(headline.value) == pytest.approx(ours["y"][-1], abs=1e-4)
    assert any(t.startswith("Hypervolume: the share of the box") for t in page_texts(app, "caption"))


def test_a_study_without_a_recorded_box_gets_the_same_rule(
    dashboard_store, open_page, page_texts, chart_traces, two_objective_study, tmp_path
):
    # A study from an older search that kept no box (and per-trial values in another).
    path = tmp_path / "old.db"
    with sqlite3.connect(sqlite_path(dashboard_store)) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
        copy.execute("DELETE FROM study_user_attributes WHERE key IN "
                     "('hypervolume_reference', 'hypervolume_ideal')")
    app = open_page(f"sqlite:///{path}", "study", study="nb201-two")
    caption = _reference_caption(app, page_texts)
    assert "this study's search recorded no box" in caption
    traces = chart_traces(app, 1)
    assert [t["name"] for t in traces] == ["hypervolume"]  # no dots from another box
    # The rule is the search's, applied to the same first trial: the same figure.
    last = max((t for t in two_objective_study.trials if t.values), key=lambda t: t.number)
    assert traces[0]["y"][-1] == pytest.approx(last.user_attrs["hypervolume"], rel=1e-9)


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
        params=finished.params, distributions=finished.distributions, values=[0.99, 1.0]))
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
    smallest = min(t.values[1] for t in two_objective_study.trials if t.values)
    assert best["y"][-1] == pytest.approx(smallest / 1e6)  # in M params, as the axis says
    layout = json.loads(app.get("plotly_chart")[1].proto.spec)["layout"]
    assert layout["yaxis"]["title"]["text"] == "M params · lower is better"
    assert (np.diff(best["y"]) <= 0).all()


def test_choices_are_parallel_coordinates(dashboard_store, open_page, chart_traces):
    app = open_page(dashboard_store, "study", study="nb201-two")
    app.radio(key="study_view").set_value("Choices").run()
    assert not app.exception
    (parallel,) = chart_traces(app, 1)
    labels = [d["label"] for d in parallel["dimensions"]]
    assert labels == [f"edge_{i}" for i in range(6)] + ["val_accuracy (%)"]
    accuracies = sorted(t.values[0] for t in optuna.load_study(
        study_name="nb201-two", storage=dashboard_store).trials if t.values)
    colour = parallel["dimensions"][-1]["values"]  # plotly's base64 array
    shown = np.frombuffer(base64.b64decode(colour["bdata"]), dtype=colour["dtype"])
    assert sorted(shown) == pytest.approx([100 * a for a in accuracies])


def test_parallel_coordinates_print_short_ticks():
    # A log-sampled learning rate: few distinct values become categories, many an axis;
    # either way no tick prints the float's 16 digits.
    rng = np.random.default_rng(0)
    few = pd.DataFrame({"param_lr": np.exp(rng.uniform(-7, -3, 4)).repeat(3),
                        "param_conv": ["gcn", "gat", "sage"] * 4, "val_accuracy": rng.random(12)})
    many = few.assign(param_lr=np.exp(rng.uniform(-7, -3, 12)))
    for frame in (few, many):
        figure = parallel_figure(frame, ["param_lr", "param_conv"], "val_accuracy")
        lr = figure.data[0].dimensions[0]
        assert lr.tickformat == ".3~g" or all(len(t) <= 9 for t in lr.ticktext), lr
    ticks = parallel_figure(few, ["param_lr"], "val_accuracy").data[0].dimensions[0].ticktext
    assert len(ticks) == 4 and all(len(t) <= 9 for t in ticks), ticks  # e.g. "0.000974"
    assert parallel_figure(many, ["param_lr"], "val_accuracy").data[0].dimensions[0].tickformat


def test_importance_ranks_every_choice(dashboard_store, open_page, page_texts):
    app = open_page(dashboard_store, "study", study="nb201-two")
    app.radio(key="study_view").set_value("Importance").run()
    assert not app.exception
    assert app.get("vega_lite_chart")
    assert any("fANOVA" in text for text in page_texts(app, "caption"))
    # 30 trials: enough for fANOVA, no caution; the 20-trial study gets one.
    assert not any("fANOVA's forest" in text for text in page_texts(app, "warning"))
    app = open_page(dashboard_store, "study", study="nb201-three")
    app.radio(key="study_view").set_value("Importance").run()
    assert any("Only 20 complete trials" in text for text in page_texts(app, "warning"))


def test_trial_table_filters_sorts_and_downloads(
    dashboard_store, open_page, page_texts, two_objective_study
):
    app = open_page(dashboard_store, "study", study="nb201-two")
    app.radio(key="study_view").set_value("Trials").run()
    table: pd.DataFrame = app.dataframe[0].value
    # The table starts on COMPLETE trials (re-proposed architectures are PRUNED, unevaluated).
    assert len(table) == len(two_objective_study.get_trials(
        states=[optuna.trial.TrialState.COMPLETE]))
    # Headers name the display unit; accuracy is shown in %.
    assert {"number", "val_accuracy (%)", "M params", "fidelity", "edge_0"} <= set(table.columns)
    by_number = {t.number: t.values for t in two_objective_study.trials if t.values}
    shown = table.set_index("number")
    for number, values in by_number.items():
        assert shown.loc[number, "val_accuracy (%)"] == pytest.approx(100 * values[0])
        assert shown.loc[number, "M params"] == pytest.approx(values[1] / 1e6)
    app.checkbox(key="table_front").check().run()
    assert sorted(app.dataframe[0].value.number) == sorted(
        t.number for t in two_objective_study.best_trials
        if t.values[0] > _floor(two_objective_study))
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
    ordered = app.dataframe[0].value["val_accuracy (%)"].to_numpy()
    assert (np.diff(ordered) <= 0).all()
    assert app.get("download_button")[0].proto.label == "Download CSV"
    assert f"{len(ordered)} of {len(two_objective_study.trials)} trials" in page_texts(app, "caption")


def test_empty_study_says_it_has_no_trials_yet(dashboard_store, open_page, page_texts):
    app = open_page(dashboard_store, "study", study="empty-study")
    assert not app.exception
    assert [m.value for m in app.metric] == ["0", "0", "0", "2"]  # no hypervolume without trials
    assert any("no complete trials yet" in text for text in page_texts(app, "info"))
    assert not app.get("plotly_chart")


def test_missing_storage_file_shows_a_message(open_page, page_texts, tmp_path):
    app = open_page(f"sqlite:///{tmp_path / 'nowhere.db'}", "study", study="nb201-two")
    assert not app.exception
    assert any("No study database yet" in text for text in page_texts(app, "warning"))


def test_a_warm_started_study_names_its_sources(open_page, page_texts, sqlite_url, data_dir):
    import nas

    def study(name: str, task: str, **extra: object) -> dict:
        return {"name": name, "space": {"name": "nb201"},
                "task": {"name": task, "data_dir": str(data_dir)},
                "objectives": [{"metric": "val_accuracy", "direction": "maximize"}],
                "sampler": {"name": "random"}, "evaluator": {"name": "tabular"},
                "budget": {"n_trials": 6}, **extra}

    nas.run(study("c10", "nb201-cifar10"), storage=sqlite_url)
    nas.run(study("c100", "nb201-cifar100", warm_start=["c10"]), storage=sqlite_url)
    warm = open_page(sqlite_url, "study", study="c100")
    assert not warm.exception
    assert any(c.startswith("Warm-started from **c10** (6 trials)") for c in page_texts(warm, "caption"))
    cold = open_page(sqlite_url, "study", study="c10")
    assert not any("Warm-started" in c for c in page_texts(cold, "caption"))
