"""nas_exports, nas_proxy_cache, nas_supernets

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nas_exports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("study_name", sa.String(512), nullable=False, index=True),
        sa.Column("trial_number", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("formats", sa.String(128), nullable=False),
        sa.Column("parity_error", sa.Float, nullable=True),
        sa.Column("weights_source", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "nas_proxy_cache",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("arch_key", sa.String(64), nullable=False, index=True),
        sa.Column("proxy", sa.String(64), nullable=False),
        sa.Column("task", sa.String(128), nullable=False),
        sa.Column("batch_seed", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime, server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("arch_key", "proxy", "task", "batch_seed"),
    )
    op.create_table(
        "nas_supernets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("space", sa.String(128), nullable=False),
        sa.Column("task", sa.String(128), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False, index=True),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("nas_supernets")
    op.drop_table("nas_proxy_cache")
    op.drop_table("nas_exports")
