"""Heartbeats on a real SQLite store: a running trial beats, a silent one is failed with the reason
and re-queued with its architecture at most MAX_RETRIES times, once however many workers look."""

from __future__ import annotations

import time

import pytest

from nas.errors import ConfigError
from nas.search.heartbeat import MAX_RETRIES, heartbeat_settings
from nas.store import TrialHeartbeat, fail_stale_trials, flush, study_engine

INTERVAL = 0.6  # seconds
GRACE = INTERVAL + 1.5  # on SQLite (one-second timestamps): nas.search.study.storage_for

# We drive ask/tell and the heartbeat ourselves, as the worker loop does.
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage")


@pytest.fixture
def study(monkeypatch, sqlite_url):
    import optuna

    from nas.search.study import storage_for

    monkeypatch.setenv("NAS_HEARTBEAT_INTERVAL_S", str(INTERVAL))
    monkeypatch.delenv("NAS_HEARTBEAT_GRACE_S", raising=False)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage_for(sqlite_url)
    assert storage.grace_period == pytest.approx(GRACE)
    return optuna.create_study(storage=storage, study_name="beats")


def _beats(study, trial_id):
    import sqlalchemy as sa

    engine = study_engine(study)
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT heartbeat FROM trial_heartbeats WHERE trial_id = :t"),
                            {"t": trial_id}).scalar()


def _ask(study):
    trial = study.ask()
    trial.suggest_categorical("op", ["conv", "pool", "skip"])
    trial.set_user_attr("metrics", {"half": "written"})
    flush(trial)  # what the worker writes before its evaluation
    return trial


def test_a_running_trial_beats_and_is_left_alone(study):
    trial = _ask(study)
    beat = TrialHeartbeat(study, trial)
    beat.start()
    try:
        first = _beats(study, trial._trial_id)
        assert first is not None
        time.sleep(3 * INTERVAL)
        assert _beats(study, trial._trial_id) > first
        assert fail_stale_trials(study) == []
    finally:
        beat.stop()
    assert study.trials[0].state.name == "RUNNING"


def test_a_silent_trial_is_failed_and_requeued_once_with_its_architecture(study):
    trial = _ask(study)
    study._storage.record_heartbeat(trial._trial_id)
    time.sleep(GRACE + 1.1)  # + the one-second rounding
    # Two workers look at the same moment: one fails and re-queues, the other sees nothing.
    assert fail_stale_trials(study) == [trial.number]
    assert fail_stale_trials(study) == []
    dead, retry = study.get_trials(deepcopy=False)
    assert dead.state.name == "FAIL"
    assert dead.user_attrs["error"].startswith("worker lost: no heartbeat for more than")
    assert f"re-queued (retry 1 of {MAX_RETRIES})" in dead.user_attrs["error"]
    assert retry.state.name == "WAITING" and retry.params == dead.params
    # The retry starts clean: the reason, never half-written results of the dead attempt.
    assert retry.user_attrs == {"retry_of": dead.number, "retry_reason": dead.user_attrs["error"]}


def test_retries_stop_after_max_retries(study):
    numbers = []
    for _ in range(MAX_RETRIES + 1):
        trial = study.ask()  # the re-queued one after the first round
        if not numbers:
            trial.suggest_categorical("op", ["conv", "pool", "skip"])
        study._storage.record_heartbeat(trial._trial_id)
        time.sleep(GRACE + 1.1)  # + the one-second rounding
        numbers += fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["FAIL"] * (MAX_RETRIES + 1)
    assert "not re-queued" in trials[-1].user_attrs["error"]
    assert len({tuple(t.params.items()) for t in trials}) == 1


def test_a_worker_lost_before_its_first_beat_is_failed_too(study):
    trial = _ask(study)  # created, never beaten: killed between ask and the heartbeat
    time.sleep(2 * GRACE + 0.3)
    assert fail_stale_trials(study) == [trial.number]
    assert "before its first heartbeat" in study.trials[0].user_attrs["error"]


@pytest.mark.parametrize(("interval", "grace", "expected"), [
    ("soon", None, "NAS_HEARTBEAT_INTERVAL_S = 'soon' is not a number"),
    ("-1", None, "must be a positive number"),
    ("inf", None, "must be a positive number"),
    ("10", "5", "must exceed the heartbeat interval"),
])
def test_bad_heartbeat_settings_are_one_line_config_errors(monkeypatch, interval, grace, expected):
    monkeypatch.setenv("NAS_HEARTBEAT_INTERVAL_S", interval)
    if grace is None:
        monkeypatch.delenv("NAS_HEARTBEAT_GRACE_S", raising=False)
    else:
        monkeypatch.setenv("NAS_HEARTBEAT_GRACE_S", grace)
    with pytest.raises(ConfigError, match=expected) as caught:
        heartbeat_settings()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("zone", ["Etc/GMT-9", "Etc/GMT+5"])  # 9 h east, 5 h west of UTC
def test_a_trial_lost_before_its_first_beat_is_judged_by_its_age_in_any_time_zone(
        study, monkeypatch, zone):
    # Optuna 5 stores datetime_start as naive UTC: compared with local time, a fresh trial
    # looked 9 hours old east of UTC (failed at once) and a dead one never aged west of it.
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        trial = _ask(study)
        assert fail_stale_trials(study) == []
        time.sleep(2 * GRACE + 0.3)
        assert fail_stale_trials(study) == [trial.number]
    finally:
        monkeypatch.undo()
        time.tzset()
