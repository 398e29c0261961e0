"""The Fidelity page: rank agreement between the scores a study records, per architecture."""

from __future__ import annotations

import json

import optuna
import pytest
from scipy.stats import kendalltau, spearmanr


def test_rank_correlations_of_the_recorded_scores(dashboard_store, open_page):
    app = open_page(dashboard_store, "fidelity", study="nb201-two")
    assert not app.exception
    assert app.multiselect(key="fidelity_scores").value == ["val_accuracy", "test_accuracy"]
    table = app.dataframe[0].value
    row = table.iloc[0]
    assert (row["score A"], row["score B"]) == ("val_accuracy", "test_accuracy")
    # The same figures straight from Optuna: one value per distinct architecture.
    study = optuna.load_study(study_name="nb201-two", storage=dashboard_store)
    by_arch = {}
    for trial in study.get_trials(states=[optuna.trial.TrialState.COMPLETE]):
        metrics = trial.user_attrs["metrics"]
        metrics = json.loads(metrics) if isinstance(metrics, str) else metrics
        by_arch.setdefault(trial.user_attrs["arch_key"],
                           (metrics["val_accuracy"], metrics["test_accuracy"]))
    val, test = zip(*by_arch.values())
    assert row["architectures"] == len(by_arch)
    assert row["spearman"] == pytest.approx(spearmanr(val, test).statistic)
    assert row["kendall"] == pytest.approx(kendalltau(val, test).statistic)
    # NAS-Bench-201's validation accuracy ranks architectures almost as test accuracy does.
    assert row["spearman"] > 0.8


def test_three_scores_give_three_pairs(dashboard_store, open_page):
    app = open_page(dashboard_store, "fidelity", study="nb201-two")
    app.multiselect(key="fidelity_scores").select("flops").run()
    assert not app.exception
    pairs = app.dataframe[0].value[["score A", "score B"]].apply(tuple, axis=1).tolist()
    assert pairs == [("val_accuracy", "test_accuracy"), ("val_accuracy", "flops"),
                     ("test_accuracy", "flops")]


def test_empty_study_explains_what_is_needed(dashboard_store, open_page, page_texts):
    app = open_page(dashboard_store, "fidelity", study="empty-study")
    assert not app.exception
    assert any("fewer than two numeric scores" in t for t in page_texts(app, "info"))


def test_missing_storage_file_shows_a_message(open_page, page_texts, tmp_path):
    app = open_page(f"sqlite:///{tmp_path / 'nowhere.db'}", "fidelity")
    assert not app.exception
    assert any("No study database yet" in text for text in page_texts(app, "warning"))
