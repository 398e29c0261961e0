"""The time convention of Optuna's trial datetimes, which changed with Optuna 5."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

__all__ = ["optuna_now", "optuna_stamp"]


def optuna_now() -> datetime:
    """Now, as the installed Optuna stores trial times: naive UTC since Optuna 5, naive local before.

    Anything compared with or written next to ``datetime_start`` must use this,
    or a machine east or west of UTC is off by its offset.
    """
    return datetime.now(UTC).replace(tzinfo=None) if _optuna_stores_utc() else datetime.now()


def optuna_stamp() -> tuple[datetime, datetime]:
    """Now, twice: as Optuna stores a trial time, and as Optuna reads it back (naive local)."""
    instant = datetime.now(UTC)
    local = instant.astimezone().replace(tzinfo=None)
    return (instant.replace(tzinfo=None) if _optuna_stores_utc() else local), local


@functools.cache
def _optuna_stores_utc() -> bool:
    # Optuna 5.0.0 changed RDBStorage's trial datetimes from naive local time to naive UTC.
    import optuna
    from packaging.version import Version

    return Version(optuna.__version__) >= Version("5.0.0")
