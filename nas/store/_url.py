"""Storage URLs: defaults, validation and one-line errors.

``sqlite:///nas.db`` is the default; ``--storage`` or ``$NAS_STORAGE`` give any
SQLAlchemy URL. Only SQLite and PostgreSQL are supported and tested.
"""

from __future__ import annotations

import os
from pathlib import Path

from nas.errors import StorageError

__all__ = ["DEFAULT_STORAGE", "resolve_url", "sqlite_path", "redact"]

DEFAULT_STORAGE = "sqlite:///nas.db"
_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg", "postgresql+psycopg2")


def resolve_url(url: str | None) -> str:
    """The URL to use: explicit, else ``$NAS_STORAGE``, else the SQLite default."""
    url = url or os.environ.get("NAS_STORAGE") or DEFAULT_STORAGE
    if "://" not in url:
        # A bare path is a friendly way to say "this SQLite file".
        if url.endswith((".db", ".sqlite", ".sqlite3")):
            return f"sqlite:///{url}"
        raise StorageError(
            f"storage '{url}' is not a URL; use e.g. sqlite:///nas.db or "
            "postgresql+psycopg://user:pass@host:5432/db"
        )
    scheme = url.split("://", 1)[0]
    if scheme not in _SCHEMES:
        raise StorageError(
            f"storage scheme '{scheme}' is not supported; use one of: {', '.join(_SCHEMES)}"
        )
    if scheme == "postgresql":
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for in-memory or other databases)."""
    if not url.startswith("sqlite:"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
