"""Opening the study database: Optuna's RDB storage for writers, a read-only engine for readers.

SQLite gets WAL mode (readers never block the writer) and a long busy timeout
(``n_jobs`` processes share one file); PostgreSQL is used as it is. Our
``nas_`` tables are migrated with Alembic on every writer open: cheap when
already at head.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nas.errors import StorageError
from nas.store._url import redact, resolve_url, sqlite_path

if TYPE_CHECKING:
    from nas.store._storage import StudyStorage

__all__ = ["open_storage", "read_engine", "write_engine", "migrate", "SQLITE_BUSY_TIMEOUT_S"]

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 60.0
#: A pooled PostgreSQL connection unused for this long is pinged before it is used.
PING_AFTER_IDLE_S = 2.0
_MIGRATIONS = Path(__file__).parent / "migrations"


def open_storage(
    url: str | None = None,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    failed_trial_callback: Callable[..., None] | None = None,
) -> StudyStorage:
    """Optuna storage for a writer (search, worker), with our tables migrated.

    Optuna's ``RDBStorage`` behind :class:`~nas.store.StudyStorage`, the
    engine's one door to it (batched trial writes, budget counts, heartbeats).
    """
    import optuna

    from nas.store._storage import StudyStorage

    url = resolve_url(url)
    _prepare_sqlite(url)
    kwargs = _engine_kwargs(url)
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                # heartbeat_interval is flagged "experimental" on every open: noise, not news.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    **_stale_callback_kwargs(optuna, failed_trial_callback),
                )
            break
        except sa.exc.IntegrityError:
            # Machines started at once all create Optuna's tables in a fresh PostgreSQL
            # database; the losers of that race see a duplicate type or table: try again.
            if attempt == 2:
                raise StorageError(f"cannot open storage {redact(url)}: tables being "
                                   "created by another process; try again") from None
            time.sleep(0.5 + attempt)
        except (sa.exc.SQLAlchemyError, OSError, ValueError, RuntimeError, ImportError) as exc:
            raise StorageError(f"cannot open storage {redact(url)}: {_first_line(exc)}") from None
    _ping_after_idle(storage.engine)
    migrate(storage.engine)
    return StudyStorage(storage)


def _stale_callback_kwargs(optuna: Any, callback: Callable[..., None] | None) -> dict[str, Any]:
    """Optuna 4.9 renamed ``failed_trial_callback`` (and warns on the old name)."""
    import inspect

    params = inspect.signature(optuna.storages.RDBStorage.__init__).parameters
    name = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in params
            else "failed_trial_callback")
    return {name: callback}


def write_engine(url: str | None = None) -> sa.Engine:
    """A plain SQLAlchemy engine for our own ``nas_`` tables (migrated)."""
    url = resolve_url(url)
    _prepare_sqlite(url)
    engine = _create_engine(url, **_engine_kwargs(url))
    _ping_after_idle(engine)
    try:
        migrate(engine)
    except StorageError:
        engine.dispose()
        raise
    return engine


def read_engine(url: str | None = None, *, busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S) -> sa.Engine:
    """A read-only engine: the dashboard and ``nas list/show`` can never write.

    ``busy_timeout_s``: how long a SQLite read waits for a writer's lock (a
    live view prefers a short wait and a retry to a frozen page).
    """
    url = resolve_url(url)
    path = sqlite_path(url)
    if path is not None:
        if not path.is_file():
            raise StorageError(f"no study database at {path} (run `nas search` first, or pass --storage)")
        ro_url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
        engine = sa.create_engine(ro_url, connect_args={"timeout": busy_timeout_s})
    elif url.startswith("postgresql"):
        engine = _create_engine(
            url,
            connect_args={"options": "-c default_transaction_read_only=on", "connect_timeout": 5},
            pool_pre_ping=True,
        )
    else:
        engine = _create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise StorageError(f"cannot open storage {redact(url)}: {_first_line(exc)}") from None
    return engine


def migrate(engine: sa.Engine) -> None:
    """Bring the ``nas_`` tables to the latest Alembic revision."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(
                conn, opts={"version_table": "nas_alembic_version"}
            ).get_current_revision()
        if current == head:
            return
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Many workers may open a fresh database at once: one migrates.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(812735)"))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate nas tables: {_first_line(exc)}") from None


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": 5}}  # pinged by _ping_after_idle
    return {}


def _ping_after_idle(engine: sa.Engine, idle_s: float = PING_AFTER_IDLE_S) -> None:
    """SQLAlchemy's ``pool_pre_ping``, for PostgreSQL connections idle in the pool ``idle_s``.

    A connection the server dropped while it sat in the pool (server restart,
    idle timeout) is replaced before use, as with ``pool_pre_ping``. But a
    worker checks a connection out a dozen times per trial, milliseconds
    apart: a ping on each is a dozen extra round trips per trial.
    """
    if engine.dialect.name != "postgresql":
        return

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["nas_idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("nas_idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return  # new, or used moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise sa.exc.InvalidatePoolError() from exc  # the pool reconnects
            raise


def _prepare_sqlite(url: str) -> None:
    """Check the folder exists and switch the file to WAL (a persistent setting)."""
    path = sqlite_path(url)
    if path is None:
        return
    if not path.parent.exists():
        raise StorageError(f"cannot open storage {url}: folder {path.parent} does not exist")
    if path.is_dir():
        raise StorageError(f"cannot open storage {url}: {path} is a folder")
    try:
        with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot open storage {url}: {exc}") from None


def _create_engine(url: str, **kwargs: Any) -> sa.Engine:
    try:
        return sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, ValueError, ImportError) as exc:
        raise StorageError(f"cannot open storage {redact(url)}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    cause: BaseException | None = exc if isinstance(exc, ImportError) else exc.__cause__
    while isinstance(cause, ImportError) and isinstance(cause.__cause__, ImportError):
        cause = cause.__cause__  # Optuna wraps the driver's own ModuleNotFoundError
    if isinstance(cause, ImportError):
        # The URL names a database driver that is not installed (e.g. psycopg2).
        return (f"its database driver is not installed ({cause}); "
                "for PostgreSQL use postgresql+psycopg://")
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
