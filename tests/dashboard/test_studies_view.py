"""The Studies page on real stores: a searched one, a missing file, a busy one, a growing one."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import optuna
import pandas as pd

from nas.store import open_storage, sqlite_path

# The study list is cached for a second (dashboard._data._studies): refreshes are
# at least that far apart, so the tests wait as long before looking again.
_STUDY_LIST_TTL_S = 1.1


def _best(app, name: str) -> str:  # type: ignore[no-untyped-def]
    """The best values shown under the study's link: objective, direction, value with unit."""
    captions = [str(c.value) for c in app.caption]
    links = [str(link.proto.label) for link in app.get("page_link")]
    assert f"Open {name}" in links
    names = [label.removeprefix("Open ") for label in links if label.startswith("Open ")]
    best = [c.removeprefix("Best: ") for c in captions if c.startswith("Best: ")]
    return dict(zip(names, best))[name]


def _table(app) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return app.dataframe[0].value.set_index("study")


def test_lists_every_study_with_setup_progress_and_best_values(dashboard_store, open_page):
    app = open_page(dashboard_store, "studies")
    assert not app.exception
    table = _table(app)
    assert set(table.index) == {"nb201-two", "nb201-three", "empty-study"}
    for name in table.index:
        study = optuna.load_study(study_name=name, storage=dashboard_store)
        done = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
        assert table.loc[name, "complete"] == len(done)
        assert table.loc[name, "running"] == 0
    two = table.loc["nb201-two"]
    assert (two.space, two.task, two.sampler) == ("nb201", "nb201-cifar10", "nsga2")
    study = optuna.load_study(study_name="nb201-two", storage=dashboard_store)
    best_accuracy = max(t.values[0] for t in study.trials if t.values)
    smallest = min(t.values[1] for t in study.trials if t.values)
    assert 0 < best_accuracy < 1
    # Each objective, its direction and its best value in its display unit (accuracy
    # stored as a fraction, shown as %).
    assert _best(app, "nb201-two") == (f"val_accuracy ↑ {100 * best_accuracy:.2f}%, "
                                       f"params ↓ {smallest / 1e6:.4g} M params")
    assert _best(app, "empty-study") == "val_accuracy ↑ –, params ↓ –"
    links = {link.proto.label: (link.proto.page, link.proto.query_string)
             for link in app.get("page_link")}
    assert links["Open nb201-two"] == ("study", "study=nb201-two")
    assert len([label for label in links if label.startswith("Open ")]) == 3
    # The sidebar's links to every page.
    assert {label for label in links if not label.startswith("Open ")} == {
        "Studies", "Study", "Architecture", "Fidelity", "Compare"}


def test_missing_storage_file_shows_a_message_then_the_studies_once_it_exists(
    dashboard_store, open_page, page_texts, tmp_path: Path
):
    path = tmp_path / "later.db"
    url = f"sqlite:///{path}"
    app = open_page(url, "studies")
    assert not app.exception
    (message,) = page_texts(app, "warning")
    assert "No study database yet" in message and str(path) in message
    assert not path.exists()  # looking must not create the file
    _copy_database(dashboard_store, path)
    app.run()
    assert not page_texts(app, "warning")
    assert set(_table(app).index) == {"nb201-two", "nb201-three", "empty-study"}


def test_storage_without_studies_says_how_to_start(open_page, page_texts, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    open_storage(url).engine.dispose()  # tables, no study
    app = open_page(url, "studies")
    assert not app.exception
    assert any("no studies yet" in text for text in page_texts(app, "info"))


def test_busy_storage_shows_a_message_quickly_and_recovers(
    dashboard_store, open_page, page_texts, tmp_path: Path
):
    path = tmp_path / "busy.db"
    _copy_database(dashboard_store, path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")  # a rollback-journal file: writers block readers
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        started = time.perf_counter()
        app = open_page(f"sqlite:///{path}", "studies")
        waited = time.perf_counter() - started
        assert not app.exception
        assert any("busy" in text for text in page_texts(app, "warning"))
        assert waited < 15
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    app.run()
    assert not page_texts(app, "warning")
    assert "nb201-two" in _table(app).index


def test_refresh_shows_trials_a_running_search_adds(dashboard_store, open_page, tmp_path: Path):
    path = tmp_path / "growing.db"
    _copy_database(dashboard_store, path)
    url = f"sqlite:///{path}"
    app = open_page(url, "studies")
    before = _table(app).loc["nb201-two"]
    study = optuna.load_study(study_name="nb201-two", storage=open_storage(url))
    finished = study.trials[0]
    study.add_trial(optuna.trial.create_trial(params=finished.params,
                                              distributions=finished.distributions,
                                              values=[0.99, 1.0]))
    running = study.ask()
    time.sleep(_STUDY_LIST_TTL_S)
    app.run()
    after = _table(app).loc["nb201-two"]
    assert after.complete == before.complete + 1
    assert after.running == 1
    assert _best(app, "nb201-two") == "val_accuracy ↑ 99.00%, params ↓ 1e-06 M params"
    study.tell(running, state=optuna.trial.TrialState.FAIL)
    time.sleep(_STUDY_LIST_TTL_S)
    app.run()
    assert (_table(app).loc["nb201-two", ["running", "failed"]] == [0, 1]).all()


def _copy_database(url: str, destination: Path) -> None:
    """A consistent copy of a (WAL) SQLite study file, through SQLite's backup API."""
    source = sqlite_path(url)
    assert source is not None
    with sqlite3.connect(source) as src, sqlite3.connect(destination) as dst:
        src.backup(dst)
