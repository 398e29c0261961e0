"""Trials per second with 1, 2 and 4 `nas worker` processes, and the storage cost of a trial.

The task is NAS-Bench-201 CIFAR-10 by table lookup (no training), so what is
measured is the search machinery itself: sampler, worker loop, heartbeats and
the study store. For every storage and worker count a fresh study of
``--trials`` trials is created and run by real ``nas worker`` processes (the
CLI, as users start it). Throughput is taken from the trials' own timestamps,
first start to last completion, so process start-up (importing torch) is not
counted.

The storage overhead per trial is the single worker's seconds per trial minus
the same loop's seconds per trial on Optuna's in-memory storage (same sampler,
same evaluator, same worker loop): what SQL costs a trial. It is printed twice:
for the same loop run in this process (wall time, the worker's CPU time, which
a loaded machine hardly inflates, and the SQL statements and transactions per
trial) and for the real single-worker process. Target: under 30 ms on PostgreSQL.

    python benchmarks/worker_scaling.py                     # SQLite, plus PostgreSQL if
                                                             # $NAS_TEST_POSTGRES_URL is set
    python benchmarks/worker_scaling.py --storage postgresql+psycopg://u:p@host/db
    python benchmarks/worker_scaling.py --start-postgres    # a private server (.ci/with-postgres.sh)
    python benchmarks/worker_scaling.py --trials 200 --workers 1 2 4 --sampler random --repeats 1

Figures on a shared machine carry its load: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA_DIR = (REPO / ".." / "shared" / "data").resolve()

STUDY = """
name = "{name}"
seed = 0
device = "cpu"
[space]
name = "nb201"
[task]
name = "nb201-cifar10"
data_dir = "{data_dir}"
[[objectives]]
metric = "val_accuracy"
direction = "maximize"
[sampler]
name = "{sampler}"
[evaluator]
name = "tabular"
[budget]
n_trials = {n_trials}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", action="append", default=[],
                        help="A storage URL to measure (repeatable); default: a temp SQLite file "
                             "and $NAS_TEST_POSTGRES_URL when set.")
    parser.add_argument("--start-postgres", action="store_true",
                        help="Run under .ci/with-postgres.sh (a private server) and measure it.")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--sampler", default="random", help="random isolates the store; tpe too.")
    parser.add_argument("--repeats", type=int, default=1, help="Runs per cell; the median is shown.")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()

    if args.start_postgres and not os.environ.get("NAS_TEST_POSTGRES_URL"):
        argv = [a for a in sys.argv[1:] if a != "--start-postgres"]
        script = REPO / ".ci" / "with-postgres.sh"
        sys.exit(subprocess.call(["bash", str(script), sys.executable, __file__, *argv]))

    with tempfile.TemporaryDirectory(prefix="nas-scaling-") as tmp:
        urls = list(args.storage) or [f"sqlite:///{Path(tmp) / 'scaling.db'}"]
        if not args.storage and os.environ.get("NAS_TEST_POSTGRES_URL"):
            urls.append(os.environ["NAS_TEST_POSTGRES_URL"])
        print(f"load average before: {_load()}; {args.trials} trials per run, "
              f"sampler {args.sampler}, median of {args.repeats}")
        memory = _median_rows([_in_process(None, args, Path(tmp)) for _ in range(args.repeats)])
        print(f"in-memory storage, 1 worker in-process: {1000 * memory[0]:.1f} ms per trial "
              f"({1 / memory[0]:.1f} trials/s), {1000 * memory[1]:.1f} ms CPU")
        for url in urls:
            kind = url.split(":", 1)[0].split("+", 1)[0]
            sql = _median_rows([_in_process(url, args, Path(tmp)) for _ in range(args.repeats)])
            print(f"{kind} storage, 1 worker in-process: {1000 * sql[0]:.1f} ms per trial, "
                  f"{1000 * sql[1]:.1f} ms CPU in the worker, {sql[2]:.0f} SQL statements in "
                  f"{sql[3]:.0f} transactions; "
                  f"storage overhead {1000 * (sql[0] - memory[0]):.1f} ms wall, "
                  f"{1000 * (sql[1] - memory[1]):.1f} ms worker CPU per trial")
        print()
        print(f"{'storage':<12}{'workers':>8}{'trials/s':>10}{'ms/trial':>10}{'speed-up':>10}")
        for url in urls:
            kind = url.split(":", 1)[0].split("+", 1)[0]
            base = None
            for workers in args.workers:
                rates = [_run(url, workers, args, Path(tmp)) for _ in range(args.repeats)]
                rate = statistics.median(rates)
                base = base or (rate if workers == 1 else None)
                speedup = f"{rate / base:.2f}x" if base else "-"
                print(f"{kind:<12}{workers:>8}{rate:>10.1f}{1000 / rate:>10.1f}{speedup:>10}",
                      flush=True)
                if workers == 1:
                    overhead = 1 / rate - memory[0]
                    print(f"{'':<12}storage overhead per trial (1 worker - in-memory): "
                          f"{1000 * overhead:.1f} ms", flush=True)
            print()
        print(f"load average after: {_load()}")


def _run(url: str, workers: int, args: argparse.Namespace, tmp: Path) -> float:
    """Trials per second of ``workers`` real `nas worker` processes on a fresh study."""
    from nas.config import load_study_file
    from nas.search.study import create_or_load_study, storage_for
    from nas.store import load_trials, read_engine

    name = f"scaling-{workers}-{uuid.uuid4().hex[:8]}"
    path = tmp / f"{name}.toml"
    path.write_text(STUDY.format(name=name, sampler=args.sampler, n_trials=args.trials,
                                 data_dir=args.data_dir))
    create_or_load_study(load_study_file(path), storage_for(url))
    env = {**os.environ, "NAS_DATA_DIR": str(args.data_dir), "PYTHONPATH": str(REPO),
           "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-m", "nas", "worker", name, "--storage", url,
                          "--index", str(i), "--no-progress"],
                         cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for i in range(workers)
    ]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"worker failed on {url}: {err.decode()[-500:]}")
    engine = read_engine(url)
    frame = load_trials(engine, name)
    engine.dispose()
    done = frame[frame.state == "COMPLETE"]
    if len(done) != args.trials:
        raise SystemExit(f"{len(done)} complete trials instead of {args.trials} on {url}")
    span = (done.datetime_complete.max() - frame.datetime_start.min()).total_seconds()
    return len(done) / span


def _in_process(url: str | None, args: argparse.Namespace,
                tmp: Path) -> tuple[float, float, float, float]:
    """One worker loop in this process: (wall s, CPU s, SQL statements, commits) per trial.

    ``url`` None is Optuna's in-memory storage: everything but SQL. The CPU time
    is this process's only (the database server's is not in it), and unlike the
    wall time it hardly moves with the machine's load.
    """
    import logging

    import optuna
    import sqlalchemy as sa

    from nas.config import load_study_file
    from nas.search.study import create_or_load_study, storage_for
    from nas.search.worker import build_worker, run_worker_loop
    from nas.store import rdb_backend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("nas").setLevel(logging.ERROR)
    name = f"in-process-{uuid.uuid4().hex[:8]}"
    path = tmp / f"{name}.toml"
    path.write_text(STUDY.format(name=name, sampler=args.sampler, n_trials=args.trials,
                                 data_dir=args.data_dir))
    config = load_study_file(path)
    storage = optuna.storages.InMemoryStorage() if url is None else storage_for(url)
    create_or_load_study(config, storage)
    setup = build_worker(config, storage)
    counts = {"statements": 0, "commits": 0}

    def count(what: str) -> Callable[..., None]:
        return lambda *_: counts.__setitem__(what, counts[what] + 1)

    if url is not None:
        engine = rdb_backend(storage).engine
        sa.event.listen(engine, "before_cursor_execute", count("statements"))
        sa.event.listen(engine, "commit", count("commits"))
    run_worker_loop(setup, 1)  # warm: the table is loaded, the evaluator set up
    counts.update(statements=0, commits=0)
    wall, cpu = time.perf_counter(), time.process_time()
    run_worker_loop(setup, args.trials + 1)
    n = args.trials
    return ((time.perf_counter() - wall) / n, (time.process_time() - cpu) / n,
            counts["statements"] / n, counts["commits"] / n)


def _median_rows(rows: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(statistics.median(column) for column in zip(*rows))


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
