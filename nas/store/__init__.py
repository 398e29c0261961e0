"""The study store: Optuna's RDB storage plus our ``nas_`` tables. Torch-free.

Writers (search, workers) use :func:`open_storage`; readers (dashboard,
``nas list``/``nas show``) use :func:`read_engine` and the pandas readers.
"""

from nas.store._connect import migrate, open_storage, rdb_backend, read_engine, write_engine
from nas.store._incremental import (
    objective_ranges,
    param_distributions,
    refresh_trials,
    trials_fingerprint,
)
from nas.store._models import ExportRecord, NasBase, ProxyCacheEntry, SupernetCheckpoint
from nas.store._read import (
    DUPLICATE_ATTR,
    INTERRUPTED_ATTR,
    evaluated_before,
    list_studies,
    load_trials,
    objective_columns,
    pareto_front,
    pareto_mask,
    study_info,
)
from nas.store._trial_writes import TrialWriter, optuna_now
from nas.store._url import DEFAULT_STORAGE, redact, resolve_url, sqlite_path

__all__ = [
    "DEFAULT_STORAGE",
    "DUPLICATE_ATTR",
    "evaluated_before",
    "INTERRUPTED_ATTR",
    "ExportRecord",
    "NasBase",
    "ProxyCacheEntry",
    "SupernetCheckpoint",
    "TrialWriter",
    "optuna_now",
    "list_studies",
    "load_trials",
    "migrate",
    "objective_columns",
    "objective_ranges",
    "open_storage",
    "rdb_backend",
    "param_distributions",
    "pareto_front",
    "pareto_mask",
    "read_engine",
    "redact",
    "refresh_trials",
    "resolve_url",
    "sqlite_path",
    "study_info",
    "trials_fingerprint",
    "write_engine",
]
