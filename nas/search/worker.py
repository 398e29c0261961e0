"""One search worker: ask a trial, evaluate its architecture, tell the result.

Many workers (processes on one machine, or machines sharing PostgreSQL) run
this loop on the same study; they coordinate only through the store:

* **Budget**: a trial may run only while fewer than ``n_trials`` trials with a
  smaller number are complete or running, so the study ends with exactly
  ``n_trials`` complete trials however many workers race. A trial created past
  the budget is closed as PRUNED with ``nas_skipped`` set, before any work.
* **Heartbeats**: a thread records a heartbeat for the running trial; a worker
  that dies stops beating, and any other worker fails its trial within two
  heartbeat intervals and re-queues it for another worker (``nas.search.heartbeat``).
  Attr ``host`` (``hostname:pid``) names the process running a trial.
* **Failures**: an exception in an evaluation fails that trial with the error
  in its attrs, and the search goes on; Ctrl-C fails the running trial with
  reason "interrupted" so a re-run resumes cleanly.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nas.config import StudyConfig
from nas.errors import ConfigError, InvalidArchitecture, NasError
from nas.search.heartbeat import TrialHeartbeat, fail_dead_trials

if TYPE_CHECKING:
    import optuna

    from nas.evaluators import Evaluator
    from search_spaces import SearchSpace

__all__ = ["WorkerSetup", "build_worker", "run_worker_loop", "resolve_device"]

log = logging.getLogger(__name__)

_POLL_S = 0.5
#: a worker whose last this-many trials all failed stops: a broken evaluator or study
#: file would otherwise burn trial numbers forever (the errors are in the trials' attrs).
MAX_CONSECUTIVE_FAILURES = 10
#: trial user attr: the choices the architecture does not use (``SearchSpace.active_choices``)
INACTIVE_CHOICES_ATTR = "inactive_choices"


@dataclass
class WorkerSetup:
    """Everything one worker process needs, built once."""

    config: StudyConfig
    study: optuna.Study
    space: SearchSpace
    evaluator: Evaluator
    worker_index: int = 0


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def build_components(config: StudyConfig, device: str = "cpu") -> tuple[Any, Any, Any]:
    """Space, prepared task and evaluator for ``config`` (raises NasError on bad input)."""
    from nas.evaluators import EVALUATORS
    from nas.tasks import create_task
    from search_spaces import create_space

    space = create_space(config.space.name, dict(config.space.params))
    task_params = dict(config.task.params)
    task = create_task(config.task.name, seed=config.seed, **task_params)
    spec = task.prepare(device)
    if "predicted_latency" in config.metrics:  # calibrate once before the study, not per trial
        from nas.latency.table import ensure_table

        ensure_table(space, spec)
    evaluator_cls = EVALUATORS.get(config.evaluator.name)
    evaluator = evaluator_cls(
        space, task, dict(config.evaluator.params), device=device, seed=config.seed
    )
    return space, task, evaluator


def build_worker(
    config: StudyConfig,
    storage: Any,
    worker_index: int = 0,
    components: tuple[Any, Any, Any] | None = None,
) -> WorkerSetup:
    """Sampler, study handle and evaluator for one worker (``components`` reused if given)."""
    import optuna

    from nas.samplers import create_sampler
    from nas.search.study import load_study

    device = resolve_device(config.device)
    if components is None or device != "cpu":
        components = build_components(config, device)
    space, task, evaluator = components
    evaluator.setup()
    seed = config.seed + 1000 * worker_index
    sampler = create_sampler(
        config.sampler.name, dict(config.sampler.params),
        seed=seed, directions=config.directions, space=space, task=task,
    )
    from nas.pruners import create_pruner

    pruner = create_pruner(config.pruner.name, dict(config.pruner.params))
    study = load_study(config.name, storage)
    study = optuna.load_study(
        study_name=study.study_name, storage=storage, sampler=sampler, pruner=pruner
    )
    return WorkerSetup(config, study, space, evaluator, worker_index)


def run_worker_loop(
    setup: WorkerSetup,
    n_trials: int | None,
    deadline: float | None = None,
    on_trial: Callable[[int], None] | None = None,
) -> int:
    """Run trials until the study has ``n_trials`` complete ones or ``deadline`` passes.

    ``on_trial`` is called with the number of each trial this worker finished.
    Returns the number of trials this worker completed.
    """
    import optuna
    from optuna.trial import TrialState

    from nas.store import TrialWriter

    study = setup.study
    writer = TrialWriter(study)
    done_here = 0
    failures_in_a_row = 0
    last_check = 0.0
    # We run Optuna's heartbeat ourselves around ask/tell; its warnings assume optimize().
    warnings.filterwarnings("ignore", message="Heartbeat of storage")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    while True:
        if deadline is not None and time.time() >= deadline:
            break
        # While a trial runs its heartbeat thread looks for dead trials; between
        # trials this loop does, at the same pace (every half interval).
        if time.monotonic() - last_check >= _check_every(study):
            fail_dead_trials(study)
            last_check = time.monotonic()
        waiting = True
        if n_trials is not None:
            states = _count(study)
            if states["COMPLETE"] >= n_trials:
                break
            if states["COMPLETE"] + states["RUNNING"] >= n_trials:
                time.sleep(_POLL_S)  # others hold the last slots; wait in case one fails
                continue
            waiting = states["WAITING"] > 0
        trial = _ask(study, waiting)
        if n_trials is not None and not _within_budget(study, trial.number, n_trials):
            trial.set_user_attr("nas_skipped", "budget reached by other workers")
            study.tell(trial, state=TrialState.PRUNED)
            continue
        state = _run_one(setup, trial, writer)
        if state == TrialState.COMPLETE:
            done_here += 1
        failures_in_a_row = failures_in_a_row + 1 if state == TrialState.FAIL else 0
        if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
            last = study.get_trials(deepcopy=False)[-1].user_attrs.get("error", "unknown error")
            raise NasError(
                f"stopping: the last {failures_in_a_row} trials of this worker failed "
                f"(last error: {last}); fix the cause and run the same command to resume"
            )
        if on_trial is not None:
            on_trial(trial.number)
    return done_here


def _run_one(setup: WorkerSetup, trial: optuna.Trial, writer: Any) -> Any:
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    study = setup.study
    heartbeat = TrialHeartbeat(study, trial._trial_id)
    heartbeat.start()
    try:
        # The architecture's params and the host attr in one transaction (Optuna
        # would commit each suggest on its own).
        try:
            with writer.deferred_params(trial, {"host": f"{socket.gethostname()}:{os.getpid()}"}):
                arch = setup.space.sample(trial)
                setup.space.validate(arch)
        except InvalidArchitecture as exc:
            trial.set_user_attr("invalid", str(exc))
            study.tell(trial, state=TrialState.PRUNED)
            return TrialState.PRUNED
        started = time.perf_counter()
        try:
            evaluation = setup.evaluator.evaluate(arch, trial)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            return TrialState.PRUNED
        except NasError as exc:
            if isinstance(exc, ConfigError):
                trial.set_user_attr("error", str(exc))
                study.tell(trial, state=TrialState.FAIL)
                raise
            return _fail(study, trial, exc)
        except Exception as exc:  # noqa: BLE001 - one bad trial must not stop the search
            log.debug("trial %d failed:\n%s", trial.number, traceback.format_exc())
            return _fail(study, trial, exc)
        try:
            values = _objective_values(setup.config, evaluation.metrics)
        except ConfigError as exc:
            trial.set_user_attr("error", str(exc))
            study.tell(trial, state=TrialState.FAIL)
            raise
        not_finite = [m for m, v in zip(setup.config.metrics, values) if not math.isfinite(v)]
        if not_finite:
            return _fail(study, trial, ValueError(f"objective {not_finite[0]} is not finite"))
        record = {
            "arch": arch.to_dict(),
            "arch_key": arch.key,
            "fidelity": evaluation.fidelity,
            "evaluator": setup.evaluator.name,
            "metrics": {k: float(v) for k, v in evaluation.metrics.items()},
            "eval_seconds": round(time.perf_counter() - started, 4),
            "worker": setup.worker_index,
            **dict(evaluation.attrs),
        }
        inactive = sorted(set(arch) - setup.space.active_choices(arch))
        if inactive:  # choices this architecture does not use (the dashboard hides them)
            record[INACTIVE_CHOICES_ATTR] = inactive
        # Attrs, values and state in one transaction: a crash leaves a RUNNING trial
        # that is failed and retried, never a COMPLETE one without its architecture
        # and metrics.
        if len(values) > 1:
            from nas.dominance import HYPERVOLUME_ATTR, hypervolume_after

            record[HYPERVOLUME_ATTR] = hypervolume_after(study, values)  # for the dashboard
        writer.complete(trial, values, record)
        return TrialState.COMPLETE
    except UpdateFinishedTrialError:
        # Our heartbeat was missed for longer than the grace period (machine paused,
        # network cut) and another worker failed and re-queued the trial meanwhile.
        log.warning("trial %d was failed by another worker (heartbeat lost); result dropped",
                    trial.number)
        return TrialState.FAIL
    except KeyboardInterrupt:
        # Ctrl-C, or the parent `nas search` gone: fail the trial now rather than leave
        # it RUNNING until its heartbeat goes stale; a re-run retries nothing twice.
        try:
            trial.set_user_attr("error", "interrupted")
            study.tell(trial, state=TrialState.FAIL)
        except Exception:  # noqa: BLE001 - already finished, or the store is gone
            log.debug("could not mark trial %d interrupted", trial.number, exc_info=True)
        raise
    finally:
        heartbeat.stop()


def _fail(study: Any, trial: Any, exc: BaseException) -> Any:
    from optuna.trial import TrialState

    message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
    log.warning("trial %d failed: %s", trial.number, message)
    trial.set_user_attr("error", message)
    study.tell(trial, state=TrialState.FAIL)
    return TrialState.FAIL


def _objective_values(config: StudyConfig, metrics: Any) -> list[float]:
    values = []
    for objective in config.objectives:
        if objective.metric not in metrics:
            raise ConfigError(
                f"objective '{objective.metric}' is not measured by evaluator "
                f"'{config.evaluator.name}'; it measured: {', '.join(sorted(metrics))}"
            )
        values.append(float(metrics[objective.metric]))
    return values


def _count(study: Any) -> dict[str, int]:
    from optuna.trial import TrialState

    counts = dict.fromkeys(("COMPLETE", "RUNNING", "WAITING", "FAIL", "PRUNED"), 0)
    engine = _engine(study)
    if engine is not None:  # one aggregate query instead of loading the trials
        import sqlalchemy as sa

        with _reading(engine) as conn:
            rows = conn.execute(
                sa.text("SELECT state, COUNT(*) FROM trials WHERE study_id = :s GROUP BY state"),
                {"s": study._study_id},
            )
            counts.update({str(state): int(n) for state, n in rows})
        return counts
    for t in study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)
    ):
        counts[t.state.name] += 1
    return counts


def _ask(study: Any, waiting: bool) -> Any:
    """``study.ask()``, without its read of the trials changed since the last ask when
    the store has just said that no trial waits to be retried.

    Optuna's ask reads them (every field of each) only to find a WAITING trial to
    pop; a sampler that needs the study's trials reads them itself, as before. A
    trial re-queued in between is popped by the next ask.
    """
    import optuna

    if waiting or _engine(study) is None:
        return study.ask()
    study._thread_local.cached_all_trials = None  # as ask: the trial cache is per trial
    return optuna.Trial(study, study._storage.create_new_trial(study._study_id))


def _within_budget(study: Any, number: int, n_trials: int) -> bool:
    from optuna.trial import TrialState

    engine = _engine(study)
    if engine is not None:
        import sqlalchemy as sa

        with _reading(engine) as conn:
            ahead_count = conn.execute(
                sa.text("SELECT COUNT(*) FROM trials WHERE study_id = :s AND number < :n "
                        "AND state IN ('COMPLETE', 'RUNNING')"),
                {"s": study._study_id, "n": number},
            ).scalar_one()
        return int(ahead_count) < n_trials
    ahead = [
        t for t in study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)
        )
        if t.number < number
    ]
    return len(ahead) < n_trials


def _reading(engine: Any) -> Any:
    """A connection for one read, in autocommit: no BEGIN and no ROLLBACK round trip
    (and psycopg drops its prepared statements on every ROLLBACK)."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _check_every(study: Any) -> float:
    getter = getattr(study._storage, "get_heartbeat_interval", None)
    interval = getter() if getter is not None else None
    return float(interval) / 2 if interval else float("inf")


def _rdb(study: Any) -> Any:
    from nas.store import rdb_backend

    return rdb_backend(study._storage)


def _engine(study: Any) -> Any:
    rdb = _rdb(study)
    return rdb.engine if rdb is not None else None
