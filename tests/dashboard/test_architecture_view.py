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
    table = metrics.set_index("metric")
    recorded = json.loads(best.user_attrs["metrics"]) if isinstance(
        best.user_attrs["metrics"], str) else best.user_attrs["metrics"]
    # Every metric in its display unit, the unit beside it (hardware metrics included).
    assert 0 < best.values[0] < 1  # stored as a fraction
    assert float(table.loc["val_accuracy", "value"]) == pytest.approx(100 * best.values[0], rel=1e-4)
    assert float(table.loc["flops", "value"]) == pytest.approx(recorded["flops"] / 1e6, rel=1e-3)
    assert float(table.loc["edgegpu_latency", "value"]) == pytest.approx(
        recorded["edgegpu_latency"], rel=1e-3)
    assert table.loc[["val_accuracy", "test_accuracy", "params", "flops", "edgegpu_latency",
                      "edgegpu_energy"], "unit"].tolist() == ["%", "%", "M params", "MFLOPs",
                                                              "ms", "mJ"]
    assert app.query_params["trial"] == str(best.number)
    # The network (stem, the searched cell × 15, head), then the cell as its graph:
    # nodes 0 to 3 and one labelled arrow for each of the six edges.
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    boxes = " ".join(a["text"] for a in spec["layout"]["annotations"] if a.get("text"))
    assert "stem" in boxes and "searched cell × 15" in boxes and "head" in boxes
    cell = json.loads(app.get("plotly_chart")[1].proto.spec)
    arrows = [a for a in cell["layout"]["annotations"] if a.get("showarrow")]
    assert len(arrows) == 6
    assert cell["data"][0]["text"] == ["0", "1", "2", "3"]
    labels = [a["text"] for a in cell["layout"]["annotations"] if not a.get("showarrow")]
    names = {"nor_conv_3x3": "conv 3×3", "nor_conv_1x1": "conv 1×1",
             "avg_pool_3x3": "avg pool 3×3", "skip_connect": "skip", "none": "none"}
    assert sorted(labels) == sorted([names[best.params[f"edge_{i}"]] for i in range(6)]
                                    + ["input", "output"])
    assert app.button[0].label == f"Export trial {best.number}"


def test_trial_from_the_url(dashboard_store, open_page, page_texts):
    app = open_page(dashboard_store, "architecture", study="nb201-three", trial="3")
    assert not app.exception
    assert app.selectbox[0].value == "nb201-three"
    assert app.selectbox[1].value == 3
    study = optuna.load_study(study_name="nb201-three", storage=dashboard_store)
    choices = app.dataframe[0].value.set_index("choice")["value"].to_dict()
    assert choices == study.trials[3].params


def test_choices_the_architecture_does_not_use_are_hidden(gnn_store, open_page, page_texts):
    # Without message passing a GNN has no conv layer: its conv type, heads, aggregation
    # and skips change nothing, so the page leaves them out (the space says which:
    # SearchSpace.active_choices, recorded by the search with each trial).
    study = optuna.load_study(study_name="gnn-no-message-passing", storage=gnn_store)
    trial = next(t for t in study.trials if t.values)
    assert sorted(trial.user_attrs["inactive_choices"]) == ["aggregation", "conv", "heads", "skip"]
    app = open_page(gnn_store, "architecture", study=study.study_name, trial=str(trial.number))
    assert not app.exception
    choices = app.dataframe[0].value.set_index("choice")["value"].to_dict()
    assert set(choices) == set(trial.params) - {"aggregation", "conv", "heads", "skip"}
    assert any("not used by this architecture, so not shown: aggregation, conv, heads, skip" in t
               for t in page_texts(app, "caption"))
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    boxes = " ".join(a["text"] for a in spec["layout"]["annotations"] if a.get("text"))
    assert "message passing" not in boxes and f"<br>{trial.params['conv']}" not in boxes
    assert "propagation" in boxes
    # Cora's accuracy is stored as a fraction and shown in %.
    metrics = app.dataframe[1].value.set_index("metric")
    assert 0 < trial.values[0] < 1
    assert metrics.loc["val_accuracy", "unit"] == "%"
    assert float(metrics.loc["val_accuracy", "value"]) == pytest.approx(100 * trial.values[0],
                                                                        rel=1e-5)
    assert study.user_attrs["num_classes"] == 7  # Cora's chance level is 1/7


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
    # A table lookup trained nothing: the exporter refuses it and says what to pass.
    app.button[0].click().run(timeout=300)
    assert not app.exception
    refused = page_texts(app, "error")
    assert len(refused) == 1 and "has no trained weights" in refused[0], refused
    assert "--untrained" in refused[0]
    app.checkbox[0].check().run(timeout=300)
    app.button[0].click().run(timeout=300)
    assert not app.exception
    assert not page_texts(app, "error"), page_texts(app, "error")
    labels = [button.proto.label for button in app.get("download_button")]
    assert any(label.endswith("model.pt") for label in labels)
    assert any(label.endswith("arch.json") for label in labels)
    assert "Download all (zip)" in labels
