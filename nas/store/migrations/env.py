"""Alembic environment for the ``nas_`` tables (Optuna migrates its own)."""

from __future__ import annotations

from alembic import context

from nas.store._models import NasBase

VERSION_TABLE = "nas_alembic_version"


def _include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # Never touch Optuna's tables: only ours carry the nas_ prefix.
    return type_ != "table" or name.startswith("nas_")


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=NasBase.metadata,
    version_table=VERSION_TABLE,
    include_object=_include,
)
with context.begin_transaction():
    context.run_migrations()
