"""The study store: Optuna's RDB storage plus our ``nas_`` tables. Torch-free.

The one door to Optuna: writers (search, workers) open a
:class:`StudyStorage` with :func:`open_storage`, and reach a running study
beyond Optuna's public API only through the functions below (batched writes,
budget counts, heartbeats, the samplers' view of the trials). Readers
(dashboard, ``nas list``/``nas show``) use :func:`read_engine` and the pandas
readers. Importing this package imports neither torch nor Optuna.
"""

from typing import TYPE_CHECKING, Any

from nas.store._clock import optuna_now
from nas.store._connect import migrate, open_storage, read_engine, write_engine
from nas.store._heartbeat import (
    RetryStaleTrial,
    TrialHeartbeat,
    fail_stale_trials,
    heartbeat_interval,
)
from nas.store._incremental import (
    objective_ranges,
    param_distributions,
    refresh_trials,
    trials_fingerprint,
)
from nas.store._models import ExportRecord, NasBase, ProxyCacheEntry, SupernetCheckpoint
from nas.store._proxy_cache import ProxyScoreCache
from nas.store._read import (
    ARCH_KEY_ATTR,
    DUPLICATE_ATTR,
    INTERRUPTED,
    INTERRUPTED_ATTR,
    WARM_START_ATTR,
    list_studies,
    load_trials,
    objective_columns,
    pareto_front,
    pareto_mask,
    study_info,
)
from nas.store._study import (
    count_states,
    evaluated_before,
    flush,
    is_interrupted,
    rdb_backend,
    study_engine,
    study_storage,
    study_trials,
    within_budget,
)
from nas.store._url import DEFAULT_STORAGE, redact, resolve_url, sqlite_path

if TYPE_CHECKING:
    from nas.store._storage import StudyStorage

__all__ = [
    "ARCH_KEY_ATTR",
    "DEFAULT_STORAGE",
    "DUPLICATE_ATTR",
    "INTERRUPTED",
    "INTERRUPTED_ATTR",
    "WARM_START_ATTR",
    "ExportRecord",
    "NasBase",
    "ProxyCacheEntry",
    "ProxyScoreCache",
    "RetryStaleTrial",
    "StudyStorage",
    "SupernetCheckpoint",
    "TrialHeartbeat",
    "count_states",
    "evaluated_before",
    "fail_stale_trials",
    "flush",
    "heartbeat_interval",
    "is_interrupted",
    "list_studies",
    "load_trials",
    "migrate",
    "objective_columns",
    "objective_ranges",
    "open_storage",
    "optuna_now",
    "param_distributions",
    "pareto_front",
    "pareto_mask",
    "rdb_backend",
    "read_engine",
    "redact",
    "refresh_trials",
    "resolve_url",
    "sqlite_path",
    "study_engine",
    "study_info",
    "study_storage",
    "study_trials",
    "trials_fingerprint",
    "within_budget",
    "write_engine",
]


def __getattr__(name: str) -> Any:
    # StudyStorage subclasses Optuna's classes: imported on first use, not with the package.
    if name == "StudyStorage":
        from nas.store._storage import StudyStorage

        return StudyStorage
    raise AttributeError(f"module 'nas.store' has no attribute {name!r}")
