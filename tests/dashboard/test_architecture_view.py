"""The Architecture page: a trial's choices, metrics, fidelity and layer drawing, and its export."""

from __future__ import annotations

import json

import optuna
import pytest


def test_shows_the_best_trial_first_with_choices_metrics_and_layers(
    dashboard_store, open_page, page_texts, chart_traces
):
    study = optuna.load_study(study_name="nb201-two", storage=dashboard_store)
    best = max((t for t in study.trials if t.values), key=lambda t: t.values[0])
    app = open_page(dashboard_store, "architecture", study="nb201-two")
    assert not app.exception
    assert app.selectbox[1].value == best.number
    header = next(t for t in page_texts(app, "markdown") if t.startswith("**Trial"))
    assert f"**Trial {best.number}**" in header and "tabular lookup" in header
    choices, metrics = (frame.value for frame in app.dataframe[:2])
    assert choices.set_index("choice")["value"].to_dict() == best.params
    metric_values = metrics.set_index("metric")["value"]
    recorded = json.loads(best.user_attrs["metrics"]) if isinstance(
        best.user_attrs["metrics"], str) else best.user_attrs["metrics"]
    assert float(metric_values["val_accuracy"]) == pytest.approx(best.values[0], rel=1e-5)
    assert float(metric_values["flops"]) == pytest.approx(recorded["flops"], rel=1e-5)
    assert app.query_params["trial"] == str(best.number)
    # The drawing of an NB201 network: stem, the three cell nodes with their searched ops, head.
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    boxes = " ".join(a["text"] for a in spec["layout"]["annotations"] if a.get("text"))
    assert "stem" in boxes and "head" in boxes
    for node in (1, 2, 3):
        assert f"cell node {node}" in boxes
    assert f"0→1: {best.params['edge_0']}" in boxes or best.params["edge_0"] == "none"
    assert app.button[0].label == f"Export trial {best.number}"


def test_trial_from_the_url(dashboard_store, open_page, page_texts):
    app = open_page(dashboard_store, "architecture", study="nb201-three", trial="3")
    assert not app.exception
    assert app.selectbox[0].value == "nb201-three"
    assert app.selectbox[1].value == 3
    study = optuna.load_study(study_name="nb201-three", storage=dashboard_store)
    choices = app.dataframe[0].value.set_index("choice")["value"].to_dict()
    assert choices == study.trials[3].params


def test_empty_study_has_nothing_to_show(dashboard_store, open_page, page_texts):
    app = open_page(dashboard_store, "architecture", study="empty-study")
    assert not app.exception
    assert any("no complete trials yet" in t for t in page_texts(app, "info"))
    assert not app.button


def test_missing_storage_file_shows_a_message(open_page, page_texts, tmp_path):
    app = open_page(f"sqlite:///{tmp_path / 'nowhere.db'}", "architecture")
    assert not app.exception
    assert any("No study database yet" in text for text in page_texts(app, "warning"))


@pytest.mark.slow
def test_export_button_runs_the_exporter_and_offers_the_files(
    dashboard_store, open_page, page_texts
):
    app = open_page(dashboard_store, "architecture", study="nb201-two", timeout=300)
    app.button[0].click().run(timeout=300)
    assert not app.exception
    assert not page_texts(app, "error"), page_texts(app, "error")
    labels = [button.proto.label for button in app.get("download_button")]
    assert any(label.endswith("model.pt") for label in labels)
    assert any(label.endswith("arch.json") for label in labels)
    assert "Download all (zip)" in labels
