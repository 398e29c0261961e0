"""Reading the store for the dashboard: read-only, cached, incremental, with friendly failures.

Everything goes through :mod:`nas.store` (read-only engine, vectorised
readers). Engines are cached per URL; each study's trials live in a
:class:`TrialCache` shared by all browser sessions, refreshed only when the
study's fingerprint changes and then only from its oldest unfinished trial,
so a 10,000-trial study costs one aggregate query per rerun.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from nas.errors import NasError
from nas.store import (
    list_studies,
    read_engine,
    redact,
    refresh_trials,
    resolve_url,
    study_info,
    trials_fingerprint,
)

__all__ = [
    "STORAGE_ENV",
    "StudyData",
    "storage_url",
    "engine_or_stop",
    "studies_or_stop",
    "study_or_stop",
    "arch_of",
    "friendly_error",
    "with_metric_columns",
]

STORAGE_ENV = "NAS_DASHBOARD_STORAGE"
# A read that waits longer than this for a writer's lock gives up with a "busy"
# message and retries on the next refresh, rather than freezing the page.
BUSY_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class StudyData:
    """One study as the pages see it: its info, its trials and the complete ones."""

    name: str
    info: dict[str, Any]
    trials: pd.DataFrame
    fingerprint: tuple[object, ...]

    @property
    def objectives(self) -> list[str]:
        return list(self.info["objectives"])

    @property
    def directions(self) -> list[str]:
        return list(self.info["directions"])

    @property
    def complete(self) -> pd.DataFrame:
        done = self.trials[self.trials.state == "COMPLETE"]
        return done.dropna(subset=[o for o in self.objectives if o in done.columns])

    @property
    def choice_columns(self) -> list[str]:
        return [c for c in self.trials.columns if c.startswith("param_")]


def storage_url() -> str:
    """The storage to show: session override, then ``nas dashboard --storage``, then $NAS_STORAGE."""
    explicit = st.session_state.get("storage") or os.environ.get(STORAGE_ENV)
    return resolve_url(explicit or None)


def engine_or_stop(url: str) -> sa.Engine:
    """The read-only engine for ``url``, or a friendly message and ``st.stop()``."""
    try:
        return _engine(url)
    except NasError as exc:
        st.warning(friendly_error(exc, url))
        st.stop()
        raise  # unreachable: st.stop() raises


def studies_or_stop(url: str) -> pd.DataFrame:
    """``nas.store.list_studies`` (cached for a second), or a friendly message and stop."""
    engine = engine_or_stop(url)
    try:
        return _studies(url, engine)
    except (NasError, sa.exc.SQLAlchemyError) as exc:
        st.warning(friendly_error(exc, url))
        st.stop()
        raise


def study_or_stop(url: str, name: str) -> StudyData:
    """The study's trials through its shared :class:`TrialCache`, or a message and stop."""
    engine = engine_or_stop(url)
    try:
        # Only the first read of a large study is slow; the spinner shows after 0.5 s.
        with st.spinner(f"Reading the trials of {name}…"):
            return _trial_cache(url, name).get(engine)
    except (NasError, sa.exc.SQLAlchemyError) as exc:
        st.warning(friendly_error(exc, url))
        st.stop()
        raise


def arch_of(row: pd.Series, choice_columns: list[str]) -> dict[str, Any]:
    """The trial's architecture: the stored ``arch`` attr, else its ``param_*`` values."""
    raw = row.get("arch")
    if isinstance(raw, str) and raw.startswith("{"):
        return dict(json.loads(raw))
    return {c.removeprefix("param_"): row[c] for c in choice_columns if pd.notna(row[c])}


def with_metric_columns(trials: pd.DataFrame) -> pd.DataFrame:
    """Spread the worker's ``metrics`` attr (a JSON dict) into one column per metric.

    Objectives already have columns (from the trial values); other metrics such
    as ``proxy_synflow`` or ``supernet_val_accuracy`` only live in that dict.
    Only missing cells are filled, so already spread rows cost nothing twice.
    """
    if "metrics" not in trials.columns or trials.empty:
        return trials
    parsed = pd.DataFrame(
        [json.loads(m) if isinstance(m, str) else {} for m in trials["metrics"]],
        index=trials.index,
    )
    trials = trials.copy()
    for column in parsed.columns:
        values = pd.to_numeric(parsed[column], errors="coerce")
        trials[column] = trials[column].fillna(values) if column in trials.columns else values
    return trials


def friendly_error(exc: BaseException, url: str) -> str:
    """One line a user can act on, for a missing file, a busy database or anything else."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if "no study database" in first:
        return (f"No study database yet at `{redact(url)}`. Start a search with "
                "`nas search STUDY_FILE`, or pass `nas dashboard --storage URL`. "
                "This page retries on every refresh.")
    if "locked" in first or "busy" in first:
        return (f"The storage `{redact(url)}` is busy (a writer holds a lock). "
                "Showing nothing this time; it retries on the next refresh.")
    if "no study named" in first:
        return f"{first}. Pick a study on the Studies page."
    return f"Cannot read `{redact(url)}`: {first}"


class TrialCache:
    """The last loaded trials of one study, refreshed incrementally (thread-safe).

    Shared across sessions through ``st.cache_resource``; the lock keeps two
    sessions from refreshing the same study at once.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._data: StudyData | None = None

    def get(self, engine: sa.Engine) -> StudyData:
        with self._lock:
            fingerprint = trials_fingerprint(engine, self.name)
            if self._data is not None and self._data.fingerprint == fingerprint:
                return self._data
            cached = self._data.trials if self._data is not None else None
            trials = with_metric_columns(refresh_trials(engine, self.name, cached))
            info = study_info(engine, self.name)
            self._data = StudyData(self.name, info, trials, fingerprint)
            return self._data


@st.cache_resource(show_spinner=False, max_entries=8)
def _engine(url: str) -> sa.Engine:
    return read_engine(url, busy_timeout_s=BUSY_TIMEOUT_S)


@st.cache_data(ttl=1.0, show_spinner=False)
def _studies(url: str, _engine: sa.Engine) -> pd.DataFrame:
    return list_studies(_engine)


@st.cache_resource(show_spinner=False, max_entries=32)
def _trial_cache(url: str, name: str) -> TrialCache:
    return TrialCache(name)

