"""Our own tables, beside Optuna's, all prefixed ``nas_``.

Optuna's tables stay the source of truth for studies and trials; these hold
what Optuna has no place for: exports, the proxy score cache and supernet
checkpoints. Schema changes go through Alembic (``nas/store/migrations``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["NasBase", "ExportRecord", "ProxyCacheEntry", "SupernetCheckpoint"]


class NasBase(DeclarativeBase):
    pass


class ExportRecord(NasBase):
    """One exported trial: where it went, in which formats, and its parity error."""

    __tablename__ = "nas_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_name: Mapped[str] = mapped_column(String(512), index=True)
    trial_number: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    formats: Mapped[str] = mapped_column(String(128))
    parity_error: Mapped[float | None] = mapped_column(Float, nullable=True)
    weights_source: Mapped[str] = mapped_column(String(64), default="trained")
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class ProxyCacheEntry(NasBase):
    """A zero-cost proxy score, so re-scoring an architecture is free."""

    __tablename__ = "nas_proxy_cache"
    __table_args__ = (UniqueConstraint("arch_key", "proxy", "task", "batch_seed"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arch_key: Mapped[str] = mapped_column(String(64), index=True)
    proxy: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(128))
    batch_seed: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class SupernetCheckpoint(NasBase):
    """A supernet checkpoint written by ``nas train-supernet``, one row per epoch."""

    __tablename__ = "nas_supernets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    space: Mapped[str] = mapped_column(String(128))
    task: Mapped[str] = mapped_column(String(128))
    config_hash: Mapped[str] = mapped_column(String(64), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
