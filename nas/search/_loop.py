"""Run a search: validate everything, create or resume the study, drive the workers.

``n_jobs`` workers are separate processes on the same storage (SQLite in WAL
mode), never threads: model training holds the GIL and torch's thread pools
would fight. The main process only watches the store and draws the progress
bar. Running the same command again resumes the study up to its budget.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nas.config import StudyConfig
from nas.errors import NasError
from nas.search.components import check_components
from nas.search.study import create_or_load_study, storage_for
from nas.search.transfer import load_prior
from nas.search.worker import build_components, build_worker, run_worker_loop
from nas.store import count_states, is_interrupted, resolve_url

__all__ = ["SearchResult", "run", "run_worker"]

log = logging.getLogger(__name__)

#: how often the main process redraws the progress bar and checks its workers
_WATCH_S = 0.5


@dataclass(frozen=True)
class SearchResult:
    study_name: str
    storage: str
    n_complete: int
    n_failed: int
    interrupted: bool
    seconds: float


def run(
    config: StudyConfig,
    *,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """Run (or resume) the search described by ``config``.

    Everything that can be wrong with the input is checked before the study
    is created, so a bad file or missing data never leaves a study behind.
    """
    url = resolve_url(config.storage)
    check_components(config)
    components = build_components(config, "cpu")  # checks the data files exist
    components[2].setup()  # evaluator params and checkpoints too, before any study exists
    storage = storage_for(url)
    prior = load_prior(config, storage, components[0]) if config.warm_start else None
    study = create_or_load_study(config, storage, task=components[1], prior=prior)
    start = time.time()
    deadline = start + config.budget.timeout if config.budget.timeout else None
    n_trials = config.budget.n_trials
    interrupted = False
    with _ProgressBar(config, enabled=progress) as bar, _interrupt_on_signals():
        try:
            if config.n_jobs == 1:
                setup = build_worker(config, storage, 0, components=components,
                                     prior=prior[0] if prior is not None else [])
                bar.update(study)
                run_worker_loop(setup, n_trials, deadline, on_trial=lambda _t: bar.update(study))
            else:
                del components
                _run_processes(config, url, n_trials, deadline, lambda: bar.update(study))
        except KeyboardInterrupt:
            interrupted = True
        bar.update(study, force=True)
    counts = count_states(study)
    return SearchResult(
        study_name=config.name,
        storage=url,
        n_complete=counts.get("COMPLETE", 0),
        n_failed=counts.get("FAIL", 0),
        interrupted=interrupted,
        seconds=time.time() - start,
    )


def run_worker(config: StudyConfig, url: str, n_trials: int | None, worker_index: int = 0,
               progress: bool = True) -> SearchResult:
    """Join an existing study as one more worker (``nas worker``)."""
    storage = storage_for(url)
    start = time.time()
    deadline = start + config.budget.timeout if config.budget.timeout else None
    setup = build_worker(config, storage, worker_index)
    interrupted = False
    with _ProgressBar(config, enabled=progress, total=n_trials) as bar, _interrupt_on_signals():
        try:
            run_worker_loop(setup, n_trials, deadline, on_trial=lambda _t: bar.update(setup.study))
        except KeyboardInterrupt:
            interrupted = True
        bar.update(setup.study, force=True)
    counts = count_states(setup.study)
    return SearchResult(config.name, url, counts.get("COMPLETE", 0), counts.get("FAIL", 0),
                        interrupted, time.time() - start)


# -- processes ---------------------------------------------------------------

def _run_processes(
    config: StudyConfig,
    url: str,
    n_trials: int | None,
    deadline: float | None,
    tick: Callable[[], None],
) -> None:
    context = mp.get_context("spawn")
    errors: Any = context.Queue()
    threads = max(1, (os.cpu_count() or 1) // config.n_jobs)
    workers = [
        context.Process(
            target=_worker_process,
            args=(config, url, i, n_trials, deadline, errors, threads),
            name=f"nas-worker-{i}",
        )
        for i in range(config.n_jobs)
    ]
    for w in workers:
        w.start()
    try:
        while any(w.is_alive() for w in workers):
            tick()
            _raise_worker_error(errors)
            time.sleep(_WATCH_S)
        _raise_worker_error(errors)
    except BaseException:
        _stop_workers(workers)
        raise
    for w in workers:
        w.join()


def _stop_workers(workers: list[Any]) -> None:
    """Interrupt the workers and wait at most one heartbeat interval for them.

    Ctrl-C in a terminal signals the whole process group, but SIGINT or SIGTERM
    sent to this process alone reaches no worker: forward it. A worker closes
    its running trial as interrupted (and re-queues it) in milliseconds, once
    its current torch operation returns; one still alive after the interval is
    killed, and its trial is failed and re-queued by the next run's heartbeat check.
    """
    from nas.search.heartbeat import heartbeat_settings

    for w in workers:
        if w.is_alive() and w.pid is not None:
            try:
                os.kill(w.pid, signal.SIGINT)
            except OSError:
                pass
    deadline = time.monotonic() + heartbeat_settings().interval
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
    for w in workers:
        if w.is_alive():
            log.warning("worker %s did not stop within a heartbeat interval: killed", w.name)
            w.kill()
            w.join(timeout=5)


@contextlib.contextmanager
def _interrupt_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt once; later ones are ignored while the
    interrupt is handled (a second Ctrl-C must not cut the clean-up that closes trials).

    Only in the main thread (elsewhere Python cannot install handlers); restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handled = False

    def handler(signum: int, _frame: Any) -> None:
        nonlocal handled
        if handled:
            log.warning("stopping (signal %d ignored while the running trials are closed)",
                        signum)
            return
        handled = True
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _raise_worker_error(errors: Any) -> None:
    try:
        message = errors.get_nowait()
    except queue.Empty:
        return
    raise NasError(message)


def _worker_process(
    config: StudyConfig,
    url: str,
    index: int,
    n_trials: int | None,
    deadline: float | None,
    errors: Any,
    threads: int,
) -> None:
    import torch

    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.WARNING)
    _quiet_optuna()
    # A shell's `&` starts the search with SIGINT ignored; the watch below needs it. The
    # group's Ctrl-C and the parent's forwarded SIGINT may both arrive: the first interrupts.
    with _interrupt_on_signals():
        threading.Thread(target=_stop_with_parent, args=(os.getppid(),), daemon=True,
                         name="nas-parent-watch").start()
        _work(config, url, index, n_trials, deadline, errors)
    # Leave at once: a normal interpreter exit with torch loaded took seconds here (in
    # native finalisers), past the heartbeat interval the parent grants. Nothing is
    # lost: the trials are closed, and the error queue is flushed first.
    errors.close()
    errors.join_thread()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _work(config: StudyConfig, url: str, index: int, n_trials: int | None,
          deadline: float | None, errors: Any) -> None:
    try:
        storage = storage_for(url)
        setup = build_worker(config, storage, index)
        run_worker_loop(setup, n_trials, deadline)
    except KeyboardInterrupt:
        pass
    except NasError as exc:
        errors.put(f"worker {index}: {exc}")
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        log.exception("worker %d crashed", index)
        errors.put(f"worker {index} crashed: {type(exc).__name__}: {exc}")


def _stop_with_parent(parent: int) -> None:
    """Interrupt this worker when the `nas search` process that started it is gone.

    A parent killed with SIGKILL cannot stop its children; without this they would
    search on, unseen, beside the re-run that resumes the study. The interrupt
    fails the running trial as "interrupted", as Ctrl-C does.
    """
    import _thread

    while os.getppid() == parent:
        time.sleep(1.0)
    log.warning("the search process (pid %d) is gone: stopping this worker", parent)
    _thread.interrupt_main()


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


# -- progress ----------------------------------------------------------------

class _ProgressBar:
    """Trials done out of the budget, and the best value (or Pareto size) so far.

    Redrawn from the store at most every ``EVERY_S`` (unless forced): on a fast
    task, a read of the study after every trial would cost more than the trial.
    """

    EVERY_S = 0.5

    def __init__(self, config: StudyConfig, enabled: bool, total: int | None = None) -> None:
        self.config = config
        self.enabled = enabled
        self.total = total if total is not None else config.budget.n_trials
        self._progress: Any = None
        self._task: Any = None
        self._drawn_at = -float("inf")

    def __enter__(self) -> _ProgressBar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn(f"[bold]{self.config.name}[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=self.total)
        return self

    def update(self, study: Any, force: bool = False) -> None:
        if self._progress is None or (
                not force and time.monotonic() - self._drawn_at < self.EVERY_S):
            return
        self._drawn_at = time.monotonic()
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        failed = sum(t.state.name == "FAIL" and not is_interrupted(t) for t in trials)
        text = ""
        if complete:
            if len(self.config.objectives) == 1:
                best = study.best_trial.values[0]
                text = f"best {self.config.metrics[0]} = {best:.4g}"
            else:
                text = f"Pareto front: {len(study.best_trials)} trials"
        if failed:
            text += f"  [red]{failed} failed[/]"
        self._progress.update(self._task, completed=len(complete), description=text)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
