"""The store writes each trial a worker runs in few statements and transactions, with what
Optuna would store (``nas.store.StudyStorage``: params and attrs wait for ``flush`` or ``tell``).

Real worker loops on the NAS-Bench-201 tabular task (no training) against a
real SQLite file and, where ``$NAS_TEST_POSTGRES_URL`` is set, the real
PostgreSQL server; the statements are counted with SQLAlchemy's own events.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from nas.config import parse_study
from nas.search.study import create_or_load_study, load_study, storage_for
from nas.search.worker import build_worker, run_worker_loop
from nas.store import flush, list_studies, rdb_backend, read_engine, study_storage

#: Statements per trial of one worker on the tabular task (28 measured): Optuna's ask (17),
#: our budget and re-proposal checks, heartbeat, params and result writes, and a dead-worker
#: check every 2.5 s.
#: It was 53 when every suggest and the result were committed one by one.
MAX_STATEMENTS_PER_TRIAL = 32
#: Transactions that write, per trial: create, first heartbeat, params, result.
MAX_WRITES_PER_TRIAL = 4

# We drive ask/tell ourselves, as the worker loop does, on a storage with heartbeats.
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    url = os.environ.get("NAS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("NAS_TEST_POSTGRES_URL is unset (bash .ci/with-postgres.sh)")
    return url


def tabular(data_dir: Path, sampler: str = "random", objectives: int = 1, **params) -> dict:
    metrics = [("val_accuracy", "maximize"), ("params", "minimize")][:objectives]
    return {
        "name": f"writes-{uuid.uuid4().hex[:8]}",
        "seed": 3,
        "device": "cpu",
        "space": {"name": "nb201"},
        "task": {"name": "nb201-cifar10", "data_dir": str(data_dir)},
        "objectives": [{"metric": m, "direction": d} for m, d in metrics],
        "sampler": {"name": sampler, "params": params},
        "evaluator": {"name": "tabular"},
        "budget": {"n_trials": 12},
    }


def run_study(data: dict, storage, n_trials: int) -> optuna.Study:
    """One worker loop until the study has ``n_trials`` complete trials."""
    config = parse_study(data)
    create_or_load_study(config, storage)
    setup = build_worker(config, storage)
    run_worker_loop(setup, n_trials)
    return setup.study


class Counter:
    """Statements, and transactions that wrote, on one engine (SQLAlchemy events)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.statements = self.writes = 0
        self._wrote: set[int] = set()
        sa.event.listen(engine, "before_cursor_execute", self._execute)
        sa.event.listen(engine, "commit", self._commit)

    def _execute(self, conn, cursor, statement, *_args) -> None:
        self.statements += 1
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            self._wrote.add(id(conn))

    def _commit(self, conn) -> None:
        if id(conn) in self._wrote:
            self._wrote.discard(id(conn))
            self.writes += 1


def test_a_trial_takes_a_bounded_number_of_statements_and_write_transactions(url, data_dir):
    data = tabular(data_dir)
    storage = storage_for(url)
    study = run_study(data, storage, 0)
    setup = build_worker(parse_study(data), storage)
    run_worker_loop(setup, 2)  # warm: the param distributions are checked once per worker
    counter = Counter(rdb_backend(storage).engine)
    run_worker_loop(setup, 12)
    n = 10
    assert counter.statements / n <= MAX_STATEMENTS_PER_TRIAL, counter.statements / n
    assert counter.writes / n <= MAX_WRITES_PER_TRIAL, counter.writes / n

    # Everything a trial had before is there, read back by a fresh process's Optuna.
    trials = load_study(data["name"], storage_for(url)).get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 12
    space_choices = set(build_worker(parse_study(data), storage).space.choices())
    for t in trials:
        assert set(t.params) == set(t.distributions) == space_choices
        assert t.user_attrs["host"].endswith(f":{os.getpid()}")
        assert t.user_attrs["arch"] == t.params
        assert t.values == [t.user_attrs["metrics"]["val_accuracy"]]
        assert t.datetime_complete >= t.datetime_start
    assert study.best_value == max(t.values[0] for t in trials)


@pytest.mark.parametrize("sampler, objectives, params", [
    ("tpe", 1, {"n_startup_trials": 4}),
    ("nsga2", 2, {"population_size": 4}),
])
def test_the_sampler_sees_the_same_history_as_with_optunas_own_writes(
        url, data_dir, sampler, objectives, params):
    # In-memory storage gets Optuna's plain suggest/set_user_attr/tell; the same seed
    # must propose the same architectures when the SQL store batches the writes.
    data = tabular(data_dir, sampler, objectives, **params)
    plain = run_study(data, optuna.storages.InMemoryStorage(), 12)
    batched = run_study(data, storage_for(url), 12)
    assert study_storage(plain) is None and study_storage(batched).batched

    def history(study):
        return [(t.number, t.params, t.values, t.user_attrs["arch_key"])
                for t in study.get_trials(deepcopy=False)]

    assert history(batched) == history(plain)
    if sampler == "nsga2":  # NSGA-II's system attrs (its generations) are stored as before
        assert ([t.system_attrs for t in batched.get_trials()]
                == [t.system_attrs for t in plain.get_trials()])


def test_a_trial_failed_by_another_worker_keeps_no_result(url, data_dir):
    data = tabular(data_dir)
    storage = storage_for(url)
    config = parse_study(data)
    create_or_load_study(config, storage)
    study = build_worker(config, storage).study
    trial = study.ask()
    trial.set_user_attr("host", "here:1")
    trial.suggest_int("x", 0, 9)
    flush(trial)
    # Another worker (its own storage) saw the heartbeat go stale and failed the trial.
    storage_for(url).set_trial_state_values(trial._trial_id, TrialState.FAIL)
    trial.set_user_attr("metrics", {"val_accuracy": 1.0})
    with pytest.raises(UpdateFinishedTrialError):
        study.tell(trial, [1.0])
    stored = load_study(data["name"], storage_for(url)).trials[0]
    assert stored.state == TrialState.FAIL and stored.values is None
    assert stored.user_attrs == {"host": "here:1"} and "x" in stored.params
    # ... and params of a trial that no longer runs are refused, as Optuna does.
    with pytest.raises(UpdateFinishedTrialError):
        trial.suggest_int("y", 0, 9)
    # Failed while sampling: the flush is refused, and so is every later write.
    second = study.ask()
    second.suggest_int("x", 0, 9)
    storage_for(url).set_trial_state_values(second._trial_id, TrialState.FAIL)
    with pytest.raises(UpdateFinishedTrialError):
        flush(second)
    with pytest.raises(UpdateFinishedTrialError):
        second.set_user_attr("host", "here:1")
    assert load_study(data["name"], storage_for(url)).trials[1].params == {}


def test_a_param_whose_distribution_changed_is_refused_as_optuna_does(url, data_dir):
    data = tabular(data_dir)
    storage = storage_for(url)
    create_or_load_study(parse_study(data), storage)
    study = load_study(data["name"], storage)
    first = study.ask()
    first.suggest_int("width", 8, 64)
    study.tell(first, [0.5])
    # Another worker process checks against what the study holds; this one against what
    # it wrote itself.
    for worker in (load_study(data["name"], storage_for(url)), study):
        trial = worker.ask()
        trial.set_user_attr("host", "h:1")
        trial.suggest_categorical("width", ["narrow", "wide"])
        with pytest.raises(ValueError, match="[Cc]annot set different distribution"):
            flush(trial)
        worker.tell(trial, state=TrialState.FAIL)  # the refused params are not written again
    stored = load_study(data["name"], storage_for(url)).trials
    assert [t.params for t in stored] == [{"width": first.params["width"]}, {}, {}]
    assert [t.state for t in stored] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL]


def test_a_queued_trial_and_a_rejected_one_are_written_whole(url, data_dir):
    # A re-queued (enqueued) trial popped by ask is written in batches too; a trial
    # told PRUNED before any flush gets its params, attrs and state in one go.
    data = tabular(data_dir)
    storage = storage_for(url)
    create_or_load_study(parse_study(data), storage)
    study = load_study(data["name"], storage)
    study.enqueue_trial({"x": 7}, user_attrs={"retry_of": 0})
    queued = study.ask()
    assert queued.suggest_int("x", 0, 9) == 7
    queued.set_user_attr("host", "h:1")
    flush(queued)
    told = study.tell(queued, [0.7])
    rejected = study.ask()
    rejected.suggest_int("x", 0, 9)
    rejected.set_user_attr("invalid", "no such cell")
    study.tell(rejected, state=TrialState.PRUNED)
    first, second = load_study(data["name"], storage_for(url)).trials
    assert (first.state, first.params, first.values) == (TrialState.COMPLETE, {"x": 7}, [0.7])
    assert first.user_attrs == {"retry_of": 0, "host": "h:1"}
    assert told == first  # what tell returns (from memory) is what a read returns
    assert second.state == TrialState.PRUNED and second.params == rejected.params
    assert second.user_attrs == {"invalid": "no such cell"}


def test_completion_time_is_stored_as_optuna_stores_the_start_in_any_time_zone(
        url, data_dir, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Etc/GMT-9")  # nine hours east of UTC: a mix-up shows
    time.tzset()
    try:
        data = tabular(data_dir)
        study = run_study(data, storage_for(url), 2)
        trial = study.ask()
        told = study.tell(trial, [0.5])  # tell's answer comes from memory, not a read
        trials = load_study(data["name"], storage_for(url)).trials
        assert told == trials[-1]
        for t in trials:
            took = (t.datetime_complete - t.datetime_start).total_seconds()
            assert 0 <= took < 60, (t.datetime_start, t.datetime_complete)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_interrupted_trials_are_counted_apart_and_claims_go_out_with_the_params(url):
    # The same answers from the store's queries as from an in-memory study's trials.
    from nas.store import INTERRUPTED_ATTR, count_states, evaluated_before

    name = f"c-{uuid.uuid4().hex[:8]}"

    def play(storage) -> tuple[dict[str, int], list]:
        study = optuna.create_study(storage=storage, study_name=name)
        first, second = study.ask(), study.ask()
        for trial in (first, second):  # two workers draw architecture "a" at once
            trial.suggest_int("x", 0, 9)
            trial.set_user_attr("arch_key", "a")
            flush(trial)
        claims = [evaluated_before(study, first, "a"), evaluated_before(study, second, "a")]
        study.tell(first, 1.0)
        third = study.ask()
        third.set_user_attr("arch_key", "a")
        flush(third)
        claims += [evaluated_before(study, third, "a"), evaluated_before(study, third, "b")]
        second.set_user_attr(INTERRUPTED_ATTR, True)
        study.tell(second, state=TrialState.FAIL)
        study.tell(third, state=TrialState.FAIL)
        study.ask()
        return count_states(study), claims

    counts, claims = play(storage_for(url))
    assert claims == [None, 0, 0, None]  # the first claim evaluates; then the COMPLETE one
    assert {k: n for k, n in counts.items() if n} == {
        "COMPLETE": 1, "FAIL": 1, "INTERRUPTED": 1, "RUNNING": 1}
    assert play(optuna.storages.InMemoryStorage()) == (counts, claims)
    listed = list_studies(read_engine(url)).set_index("study_name").loc[name]  # `nas list`
    assert {state: int(listed[state.lower()]) for state in counts} == counts


def test_two_workers_popping_the_same_queued_trial_get_it_once(url, data_dir):
    # A resumed two-worker search re-queues interrupted trials; both workers then pop the
    # queue at once. Optuna's pop reads the state and then writes it, and SQLite ignores
    # FOR UPDATE, so both could read WAITING and run the same trial (CI, stop 31: the
    # second one's params hit the UNIQUE constraint and the worker crashed).
    import threading

    data = tabular(data_dir)
    storage = storage_for(url)
    create_or_load_study(parse_study(data), storage)
    study = load_study(data["name"], storage)
    for x in range(20):
        study.enqueue_trial({"x": x})
    queued = [t._trial_id for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))]
    wins: dict[int, list[str]] = {trial_id: [] for trial_id in queued}

    def pop(name: str, barrier: threading.Barrier) -> None:
        for trial_id in queued:
            barrier.wait()
            if storage.set_trial_state_values(trial_id, TrialState.RUNNING):
                wins[trial_id].append(name)

    barrier = threading.Barrier(2)
    workers = [threading.Thread(target=pop, args=(name, barrier)) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert all(len(names) == 1 for names in wins.values()), wins
    states = {t.state for t in load_study(data["name"], storage_for(url)).trials}
    assert states == {TrialState.RUNNING}
    # a popped trial is not popped again, and a finished one never
    assert storage.set_trial_state_values(queued[0], TrialState.RUNNING) is False
