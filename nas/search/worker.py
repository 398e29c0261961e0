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
* **Writes**: the loop is Optuna's ask, ``suggest_*``, ``set_user_attr`` and
  tell; the store (``nas.store.StudyStorage``) writes the sampled architecture
  in one transaction at :func:`nas.store.flush` and the result in another at
  tell.
  Attr ``host`` (``hostname:pid``) names the process running a trial.
* **Re-proposals**: attr ``arch_key`` goes out with the params at
  :func:`nas.store.flush`; an architecture another trial has evaluated (or
  claimed first) is closed as PRUNED with ``nas_duplicate_of``
  (:func:`nas.store.evaluated_before`) and costs no budget.
* **Failures**: an exception in an evaluation fails that trial with the error
  in its attrs, and the search goes on.
* **Interrupts**: Ctrl-C or SIGTERM closes the running trial at once as
  interrupted (state FAIL, as Optuna has no other, with attr ``nas_interrupted``:
  no reader counts it as a failure) and re-queues its architecture, so a re-run
  evaluates it first; no trial is left RUNNING for a heartbeat to find.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nas.config import StudyConfig
from nas.device import resolve_device
from nas.errors import ConfigError, InvalidArchitecture, NasError
from nas.store import (
    ARCH_KEY_ATTR,
    DUPLICATE_ATTR,
    INTERRUPTED_ATTR,
    TrialHeartbeat,
    count_states,
    evaluated_before,
    fail_stale_trials,
    flush,
    heartbeat_interval,
    within_budget,
)

if TYPE_CHECKING:
    import optuna

    from nas.evaluators import Evaluator
    from search_spaces import SearchSpace

__all__ = ["WorkerSetup", "build_worker", "run_worker_loop"]

log = logging.getLogger(__name__)

_POLL_S = 0.5
#: a worker whose last this-many trials all failed stops: a broken evaluator or study
#: file would otherwise burn trial numbers forever (the errors are in the trials' attrs).
MAX_CONSECUTIVE_FAILURES = 10
#: a worker whose sampler proposed only evaluated architectures this many times in a row
#: stops: the space (as the sampler sees it) has no new one left.
MAX_CONSECUTIVE_DUPLICATES = 100
#: what :func:`_run_one` returns for an architecture the study had already evaluated
_DUPLICATE = "duplicate"
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


def build_components(config: StudyConfig, device: str = "cpu",
                     calibrate_latency: bool = True) -> tuple[Any, Any, Any]:
    """Space, prepared task and evaluator for ``config`` (raises NasError on bad input).

    ``calibrate_latency=False`` (``nas validate``) leaves a missing latency table missing.
    """
    from nas.evaluators import EVALUATORS
    from nas.plugins import load_plugins
    from nas.tasks import create_task
    from search_spaces import create_space

    load_plugins(config.plugins)  # a spawned worker process imports the study's plugins too
    space = create_space(config.space.name, dict(config.space.params))
    task_params = dict(config.task.params)
    task = create_task(config.task.name, seed=config.seed, **task_params)
    spec = task.prepare(device)
    if "predicted_latency" in config.metrics and calibrate_latency:  # once, not per trial
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
    prior: list[Any] | None = None,
) -> WorkerSetup:
    """Sampler, study handle and evaluator for one worker (``components`` reused if given).

    ``prior``: the ``warm_start`` prior when the caller has loaded it; else it is read here.
    """
    import optuna

    from nas.samplers import create_sampler
    from nas.search.study import load_study
    from nas.search.transfer import load_prior

    device = resolve_device(config.device)
    if components is None or device != "cpu":
        components = build_components(config, device)
    space, task, evaluator = components
    evaluator.setup()
    seed = config.seed + 1000 * worker_index
    if prior is None:
        prior = load_prior(config, storage, space)[0] if config.warm_start else []
    sampler = create_sampler(
        config.sampler.name, dict(config.sampler.params),
        seed=seed, directions=config.directions, space=space, task=task, prior=prior,
        budget=config.budget.n_trials,
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

    study = setup.study
    done_here = 0
    failures_in_a_row = 0
    duplicates_in_a_row = 0
    last_check = 0.0
    interval = heartbeat_interval(study)
    check_every = interval / 2 if interval else float("inf")
    # We run Optuna's heartbeat ourselves around ask/tell; its warnings assume optimize().
    warnings.filterwarnings("ignore", message="Heartbeat of storage")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    while True:
        if deadline is not None and time.time() >= deadline:
            break
        # While a trial runs its heartbeat thread looks for dead trials; between
        # trials this loop does, at the same pace (every half interval).
        if time.monotonic() - last_check >= check_every:
            fail_stale_trials(study)
            last_check = time.monotonic()
        if n_trials is not None:
            states = count_states(study)
            if states["COMPLETE"] >= n_trials:
                break
            if states["COMPLETE"] + states["RUNNING"] >= n_trials:
                time.sleep(_POLL_S)  # others hold the last slots; wait in case one fails
                continue
        trial = None
        try:
            # ask() stores the trial as RUNNING, then samples (a GP fit can take a while): a
            # Ctrl-C in between must not leave it open, so it waits until ask returns.
            with _interrupts_deferred():
                trial = study.ask()
            if n_trials is not None and not within_budget(study, trial.number, n_trials):
                trial.set_user_attr("nas_skipped", "budget reached by other workers")
                study.tell(trial, state=TrialState.PRUNED)
                continue
            state = _run_one(setup, trial)
        except TrialInterrupted:
            raise
        except KeyboardInterrupt:  # between ask and evaluation
            if trial is not None:
                mark_interrupted(study, trial)
            raise
        if state == TrialState.COMPLETE:
            done_here += 1
        failures_in_a_row = failures_in_a_row + 1 if state == TrialState.FAIL else 0
        duplicates_in_a_row = duplicates_in_a_row + 1 if state == _DUPLICATE else 0
        if duplicates_in_a_row >= MAX_CONSECUTIVE_DUPLICATES:
            raise NasError(
                f"stopping: the sampler proposed {duplicates_in_a_row} architectures in a row "
                "that the study has already evaluated; the space has no new one left for it"
            )
        if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
            last = study.get_trials(deepcopy=False)[-1].user_attrs.get("error", "unknown error")
            raise NasError(
                f"stopping: the last {failures_in_a_row} trials of this worker failed "
                f"(last error: {last}); fix the cause and run the same command to resume"
            )
        if on_trial is not None:
            on_trial(trial.number)
    return done_here


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends, then reach their own handlers.

    Only in the main thread (elsewhere Python installs no handlers and signals
    do not arrive): there the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: received.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(received):
            signal.raise_signal(sig)


def _run_one(setup: WorkerSetup, trial: optuna.Trial) -> Any:
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    study = setup.study
    heartbeat = TrialHeartbeat(study, trial)
    heartbeat.start()
    try:
        trial.set_user_attr("host", f"{socket.gethostname()}:{os.getpid()}")
        try:
            arch = setup.space.sample(trial)
            setup.space.validate(arch)
        except InvalidArchitecture as exc:
            trial.set_user_attr("invalid", str(exc))
            study.tell(trial, state=TrialState.PRUNED)
            return TrialState.PRUNED
        # The architecture's params, the host attr and the architecture's key in one
        # transaction, before the evaluation: a dead worker's trial is re-queued with its
        # architecture, and a worker that drew the same architecture meanwhile sees the claim.
        trial.set_user_attr(ARCH_KEY_ATTR, arch.key)
        flush(trial)
        duplicate = evaluated_before(study, trial, arch.key)
        if duplicate is not None:
            # Measured (or being measured) already: no budget for it again (the budget
            # counts COMPLETE trials). PRUNED, so the sampler sees the proposal and every
            # sampler draws anew; the study keeps one result per architecture.
            trial.set_user_attr(DUPLICATE_ATTR, duplicate)
            study.tell(trial, state=TrialState.PRUNED)
            return _DUPLICATE
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
            ARCH_KEY_ATTR: arch.key,
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
        if len(values) > 1:
            from nas.dominance import HYPERVOLUME_ATTR, hypervolume_after

            record[HYPERVOLUME_ATTR] = hypervolume_after(study, values)  # for the dashboard
        for key, value in record.items():
            trial.set_user_attr(key, value)
        # Attrs, values and state in one transaction: a crash leaves a RUNNING trial
        # that is failed and retried, never a COMPLETE one without its architecture
        # and metrics.
        study.tell(trial, values)
        return TrialState.COMPLETE
    except UpdateFinishedTrialError:
        # Our heartbeat was missed for longer than the grace period (machine paused,
        # network cut) and another worker failed and re-queued the trial meanwhile.
        log.warning("trial %d was failed by another worker (heartbeat lost); result dropped",
                    trial.number)
        return TrialState.FAIL
    except KeyboardInterrupt:
        # Ctrl-C, SIGTERM, or the parent `nas search` gone: close the trial now rather
        # than leave it RUNNING until its heartbeat goes stale, and re-queue its architecture.
        mark_interrupted(study, trial)
        raise TrialInterrupted() from None
    finally:
        heartbeat.stop()


class TrialInterrupted(KeyboardInterrupt):
    """A KeyboardInterrupt whose trial is already closed as interrupted."""


def mark_interrupted(study: Any, trial: Any) -> None:
    """Close a running ``trial`` as interrupted (FAIL + ``nas_interrupted``) and enqueue the
    params it has (its architecture; part of it if cut while sampling, none before), which
    the next ask pops before sampling anew."""
    from optuna.trial import TrialState

    try:
        # The params sampled so far are written first: the closed trial records the
        # architecture it was cut at, the one its retry below re-runs.
        flush(trial)
    except Exception:  # noqa: BLE001 - the store is gone; tell below says so too
        log.debug("could not write trial %d's params", trial.number, exc_info=True)
    try:
        trial.set_user_attr("error", "interrupted")
        trial.set_user_attr(INTERRUPTED_ATTR, True)
        study.tell(trial, state=TrialState.FAIL)
    except Exception:  # noqa: BLE001 - already finished, or the store is gone
        log.debug("could not mark trial %d interrupted", trial.number, exc_info=True)
        return
    if trial.params:
        try:
            study.enqueue_trial(dict(trial.params), user_attrs={
                "retry_of": trial.number, "retry_reason": "interrupted"})
        except Exception:  # noqa: BLE001 - the architecture is then simply drawn anew
            log.debug("could not re-queue trial %d", trial.number, exc_info=True)


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
