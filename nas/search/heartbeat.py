"""Heartbeats: noticing a dead worker and re-queueing its trial.

Every running trial has a heartbeat (Optuna's ``trial_heartbeats`` table)
that its worker refreshes every ``interval`` from a background thread
(:class:`nas.store.TrialHeartbeat`). A worker killed with SIGKILL, or a
machine that lost power, stops beating; any other worker then fails the trial
(:func:`nas.store.fail_stale_trials`) and re-queues its architecture
(:class:`nas.store.RetryStaleTrial`) at most ``max_retries`` times, with the
reason in the attrs of both trials. This module holds the settings.

Timing: a trial is stale once its last beat is older than ``grace`` (1.5
intervals, so one late beat is tolerated) and every worker looks for stale
trials every ``interval / 2`` (from its heartbeat thread while a trial runs,
between trials otherwise). A dead worker's trial is therefore failed at most
``grace + interval / 2 = 2 * interval`` after its last beat, that is within two
heartbeat intervals of the death.

SQLite stores heartbeats with one-second resolution (``CURRENT_TIMESTAMP``),
so on SQLite the grace period is at least ``interval + 1.5`` s
(:func:`nas.search.study.storage_for`): a beating trial is never mistaken for a dead
one because of rounding. With the default 5 s interval this changes nothing.

A worker killed between creating a trial and its first beat is noticed too:
its trial is failed once it is older than two grace periods.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nas.errors import ConfigError

__all__ = ["HEARTBEAT_INTERVAL_S", "MAX_RETRIES", "HeartbeatSettings", "heartbeat_settings"]

#: Defaults; ``$NAS_HEARTBEAT_INTERVAL_S`` and ``$NAS_HEARTBEAT_GRACE_S`` override them.
HEARTBEAT_INTERVAL_S = 5.0
MAX_RETRIES = 2


@dataclass(frozen=True)
class HeartbeatSettings:
    interval: float
    grace: float
    max_retries: int = MAX_RETRIES

    @property
    def check_every(self) -> float:
        return self.interval / 2


def heartbeat_settings() -> HeartbeatSettings:
    """The settings for this process (environment, else the defaults)."""
    interval = _env_seconds("NAS_HEARTBEAT_INTERVAL_S", HEARTBEAT_INTERVAL_S)
    grace = _env_seconds("NAS_HEARTBEAT_GRACE_S", 1.5 * interval)
    if grace <= interval:
        raise ConfigError(
            f"NAS_HEARTBEAT_GRACE_S = {grace:g} must exceed the heartbeat interval ({interval:g} s)"
        )
    return HeartbeatSettings(interval=interval, grace=grace)


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} = {raw!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ConfigError(f"{name} = {raw!r} must be a positive number of seconds")
    return value
