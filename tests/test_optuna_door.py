"""One door to Optuna: outside ``nas/store`` the library uses only Optuna's public API.

A private name of Optuna (``study._storage``, ``trial._trial_id``,
``optuna.storages._rdb``, ...) or SQL on Optuna's tables anywhere in the
library packages but ``nas/store`` fails this test, naming the file and line:
an Optuna release can change those without notice, and the store is the one
place that adapts to it (``nas.store.StudyStorage`` and its functions).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "search_spaces", "proxies", "supernets", "dashboard")
DOOR = ROOT / "nas" / "store"

OPTUNA_TABLES = (
    "studies", "study_directions", "study_user_attributes", "study_system_attributes",
    "trials", "trial_params", "trial_values", "trial_intermediate_values",
    "trial_user_attributes", "trial_system_attributes", "trial_heartbeats",
    "version_info", "alembic_version",
)

RULES = {
    "a private module or name of Optuna": re.compile(
        r"(^|[^\w])optuna(\.\w+)*\._"                       # optuna.storages._rdb, optuna._imports
        r"|from\s+optuna(\.\w+)*\s+import\s+(.*[\s,(])?_[A-Za-z]"  # from optuna.storages import _CachedStorage
    ),
    "a private attribute of an Optuna object": re.compile(
        r"\b(study|trial|storage|sampler|pruner|frozen)\._[a-z]"   # study._storage, trial._trial_id
        r"|\.(_cached_frozen_trial|_thread_local|_get_trials|_study_id|_trial_id|_storage|_backend"
        r"|_get_stale_trial_ids|_filter_study|_create_new_trial|_set_trial_param)\b"
        r"|getattr\(\s*\w+\s*,\s*[\"']_[a-z]"                # getattr(study, "_storage")
    ),
    "SQL on Optuna's tables": re.compile(
        r"\b(from|join|into|update|table)\s+[\"`]?(" + "|".join(OPTUNA_TABLES) + r")\b",
        re.IGNORECASE,
    ),
}


def library_files() -> list[Path]:
    files = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    return [p for p in files if DOOR not in p.parents]


def violations(text: str) -> list[tuple[int, str, str]]:
    """(line number, rule, line) for every line of ``text`` that goes around the door."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for rule, pattern in RULES.items():
            if pattern.search(line):
                found.append((number, rule, line.strip()))
    return found


def test_the_library_reaches_optuna_only_through_its_public_api_and_nas_store():
    files = library_files()
    assert len(files) > 50 and any(p.name == "worker.py" for p in files)  # the scan sees the engine
    found = [f"{path.relative_to(ROOT)}:{number}: {rule}: {line}"
             for path in files
             for number, rule, line in violations(path.read_text(encoding="utf-8"))]
    assert not found, "Optuna reached around nas/store:\n" + "\n".join(found)


@pytest.mark.parametrize("line", [
    "storage = study._storage",
    "heartbeat = TrialHeartbeat(study, trial._trial_id)",
    "    study._thread_local.cached_all_trials = None",
    "completed = self.study._get_trials(deepcopy=False, use_cache=True)",
    "from optuna.storages._rdb import models",
    "from optuna.storages import RDBStorage, _CachedStorage",
    "models = optuna.storages._rdb.models",
    "backend = getattr(storage, '_backend', storage)",
    'sa.text("SELECT state, COUNT(*) FROM trials WHERE study_id = :s")',
    '"LEFT JOIN trial_heartbeats h ON h.trial_id = t.trial_id"',
    "conn.execute(sa.text('update trial_values set value = 1'))",
])
def test_each_way_around_the_door_is_caught(line):
    assert violations(line)


@pytest.mark.parametrize("line", [
    "trial = study.ask(); study.tell(trial, values)",
    "for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):",
    "from optuna.trial import FrozenTrial, TrialState",
    "name = study.study_name; n = trial.number; self._study = study",
    "from nas.store import count_states, flush, study_trials",
    "# the trials of the study, read from the store",
])
def test_public_use_passes(line):
    assert not violations(line)
