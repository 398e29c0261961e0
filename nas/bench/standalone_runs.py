"""The standalone reference of ``nas bench supernet``, kept run by run and trained in parallel.

A trustworthy reference is the costliest part of the benchmark: 40 architectures
x 3 seeds of a character model trained 4,000 steps is four hours on one core.
So every finished training is appended at once to ``standalone_runs.jsonl`` in
the output folder, and a rerun with the same settings reads those lines back
and trains only what is missing: a killed run loses at most the trainings in
flight, and a longer or wider run (more seeds, more architectures) reuses the
shorter one's work. A line carries a fingerprint of everything that decides the
score (space, task, narrowed choices, task parameters, standalone budget,
optimizer, device), so a changed setting retrains instead of mixing budgets.

``jobs`` trains that many runs at once in separate processes (spawned, each
with ``threads`` torch threads): on a 2-core machine two one-thread trainings
finish about twice as fast as one two-thread training of these small models.
Every run seeds itself with its own seed, so the scores do not depend on
``jobs`` or on the order runs finish in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

__all__ = ["RUNS_FILE", "StandaloneJob", "fingerprint", "recipe", "space_and_task",
           "train_reference"]

log = logging.getLogger(__name__)

#: The file under the output folder that holds one JSON line per finished training.
RUNS_FILE = "standalone_runs.jsonl"


@dataclass(frozen=True)
class StandaloneJob:
    """What a training needs besides the architecture and its seed (picklable for workers)."""

    space_name: str
    task_name: str
    space_choices: dict[str, Any]
    task_params: dict[str, Any]
    epochs: int
    patience: int
    lr: float
    optimizer: str
    grad_clip: float | None
    task_seed: int
    device: str
    data_dir: str | None = None
    #: more :class:`nas.train.TrainSettings` fields (schedule, warmup, beta2, ...); they win
    settings: dict[str, Any] = field(default_factory=dict)


def fingerprint(job: StandaloneJob) -> str:
    """A short hash of what decides a score: the data, the space, and the training recipe.

    The recipe enters as the training settings it results in, and only where they differ
    from the defaults: the same recipe written two ways (``lr`` in the job or in
    ``settings``) shares kept runs, and a new setting with a default keeps them. The data
    folder does not enter (the same data anywhere).
    """
    from nas.train import TrainSettings

    default = asdict(TrainSettings())
    train = {k: v for k, v in asdict(TrainSettings(**recipe(job))).items() if v != default[k]}
    identity = {"space": job.space_name, "task": job.task_name, "choices": job.space_choices,
                "task_params": job.task_params, "task_seed": job.task_seed,
                "device": job.device, "train": train}
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def recipe(job: StandaloneJob) -> dict[str, Any]:
    """The :class:`nas.train.TrainSettings` fields of the job's runs (``settings`` win)."""
    return {"epochs": job.epochs, "patience": job.patience, "lr": job.lr, "weight_decay": 5e-4,
            "optimizer": job.optimizer, "grad_clip": job.grad_clip, **job.settings}


def train_reference(job: StandaloneJob, archs: list[Any], repeats: int, out: Path, *,
                    jobs: int = 1, threads: int | None = None,
                    make_context: Callable[[StandaloneJob], tuple[Any, Any]] | None = None,
                    ) -> tuple[list[list[float]], list[float]]:
    """Scores per repeat (``[repeat][arch]``) and the seconds of every run, old or new.

    Repeat ``r`` of architecture ``i`` trains with seed ``task_seed + i + 1000 * r``.
    Runs already in ``out / RUNS_FILE`` under the same fingerprint are read, not trained.
    ``make_context`` builds ``(space, task)`` for serial runs (default: from ``job``).
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out / RUNS_FILE
    key = fingerprint(job)
    done = _read_runs(path, key)
    wanted = [(r, i, job.task_seed + i + 1000 * r) for r in range(repeats)
              for i in range(len(archs))]
    todo = [(r, i, s) for r, i, s in wanted if (archs[i].key, s) not in done]
    if len(todo) < len(wanted):
        log.info("standalone: %d of %d runs read back from %s", len(wanted) - len(todo),
                 len(wanted), path)
    finished = 0
    cut_short = _ends_mid_line(path)
    with open(path, "a") as handle:
        if cut_short:  # a killed writer left half a line: new lines must not join it
            handle.write("\n")

        def record(repeat: int, index: int, run_seed: int, score: float, seconds: float) -> None:
            nonlocal finished
            finished += 1
            done[(archs[index].key, run_seed)] = (score, seconds)
            line = {"fingerprint": key, "arch_key": archs[index].key, "repeat": repeat,
                    "run_seed": run_seed, "score": score, "seconds": seconds}
            handle.write(json.dumps(line) + "\n")
            handle.flush()
            log.info("standalone seed %d, %d/%d: %.4f (%d of %d runs done)", repeat, index + 1,
                     len(archs), score, len(wanted) - len(todo) + finished, len(wanted))

        if todo and (jobs <= 1 or len(todo) == 1):
            space, task = (make_context or _context)(job)
            for repeat, index, run_seed in todo:
                score, seconds = train_one(space, task, job, dict(archs[index]), run_seed)
                record(repeat, index, run_seed, score, seconds)
        elif todo:
            _train_in_workers(job, archs, todo, jobs, threads, record)
    per_seed = [[done[(archs[i].key, job.task_seed + i + 1000 * r)][0]
                 for i in range(len(archs))] for r in range(repeats)]
    times = [done[(archs[i].key, s)][1] for _, i, s in wanted]
    return per_seed, times


def train_one(space: Any, task: Any, job: StandaloneJob, choices: dict[str, Any],
              run_seed: int) -> tuple[float, float]:
    """One standalone training: (score, higher is better; seconds)."""
    from nas.architecture import Architecture
    from nas.train import TrainSettings, seed_everything, train_model

    arch = Architecture(choices)
    seed_everything(run_seed)
    model = space.build(arch, task.spec)
    fields = recipe(job)
    # An architecture's own lr / weight decay (gnn's are choices) win over the recipe's.
    fields["lr"] = float(arch.get("lr", fields["lr"]))
    fields["weight_decay"] = float(arch.get("weight_decay", fields["weight_decay"]))
    settings = TrainSettings(**fields)
    tick = time.perf_counter()
    result = train_model(model, task, settings, seed=run_seed, device=job.device)
    seconds = time.perf_counter() - tick
    sign = 1.0 if task.higher_is_better else -1.0
    return sign * float(result.val[task.metric]), seconds


def _read_runs(path: Path, key: str) -> dict[tuple[str, int], tuple[float, float]]:
    """``{(arch_key, run_seed): (score, seconds)}`` of the lines with this fingerprint.

    A line cut short by a killed process (the last one) is skipped, so it retrains.
    """
    done: dict[tuple[str, int], tuple[float, float]] = {}
    if not path.exists():
        return done
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            log.warning("%s line %d is not JSON (cut short?): skipped, that run retrains",
                        path, number)
            continue
        if isinstance(line, dict) and line.get("fingerprint") == key:
            done[(str(line["arch_key"]), int(line["run_seed"]))] = (float(line["score"]),
                                                                   float(line["seconds"]))
    return done


def _ends_mid_line(path: Path) -> bool:
    """Whether the file's last line lacks its newline (a writer killed mid-line)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) != b"\n"


def space_and_task(space_name: str, task_name: str, space_choices: dict[str, Any],
                   task_params: dict[str, Any], *, seed: int, data_dir: str | Path | None,
                   device: str) -> tuple[Any, Any, Any]:
    """The narrowed space, its task and the task's spec, data on ``device``."""
    from nas.tasks import create_task
    from search_spaces import create_space

    space = create_space(space_name, space_choices)
    params = dict(task_params)
    if data_dir is not None:
        params["data_dir"] = str(data_dir)
    task = create_task(task_name, seed=seed, **params)
    return space, task, task.prepare(device)


def _context(job: StandaloneJob) -> tuple[Any, Any]:
    """The space and the prepared task a run trains on."""
    space, task, _ = space_and_task(job.space_name, job.task_name, job.space_choices,
                                    job.task_params, seed=job.task_seed,
                                    data_dir=job.data_dir, device=job.device)
    return space, task


_WORKER: dict[str, Any] = {}


def _init_worker(job: StandaloneJob, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER["space"], _WORKER["task"] = _context(job)


def _run_in_worker(job: StandaloneJob, choices: dict[str, Any],
                   run_seed: int) -> tuple[float, float]:
    return train_one(_WORKER["space"], _WORKER["task"], job, choices, run_seed)


def _train_in_workers(job: StandaloneJob, archs: list[Any], todo: list[tuple[int, int, int]],
                      jobs: int, threads: int | None,
                      record: Callable[[int, int, int, float, float], None]) -> None:
    """Run ``todo`` on ``jobs`` spawned processes, recording each run as it finishes."""
    import os

    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                             initializer=_init_worker, initargs=(job, threads)) as pool:
        pending: dict[Future[tuple[float, float]], tuple[int, int, int]] = {
            pool.submit(_run_in_worker, job, dict(archs[index]), run_seed):
                (repeat, index, run_seed) for repeat, index, run_seed in todo}
        try:
            while pending:
                ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in ready:
                    repeat, index, run_seed = pending.pop(future)
                    score, seconds = future.result()
                    record(repeat, index, run_seed, score, seconds)
        except BaseException:
            # A failed run (or Ctrl-C) stops the queue; the runs recorded so far stay.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
