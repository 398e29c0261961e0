"""The search run: study in the store, worker processes, heartbeats.

``run(config)`` is the one entry point (:mod:`nas.search._loop`); the worker
loop (:mod:`nas.search.worker`) asks Optuna for a trial, evaluates it and tells
the result, with a heartbeat per running trial (:mod:`nas.search.heartbeat`).
Studies are created and reopened in :mod:`nas.search.study`.
"""

from nas.search._loop import SearchResult, run, run_worker

__all__ = ["SearchResult", "run", "run_worker"]
