"""vendor status: sources, latest state per service, state changes

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vendor_sources",
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("next_poll_at", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_vendor_sources")),
    )
    with op.batch_alter_table("vendor_sources", schema=None) as batch_op:
        batch_op.create_index("ix_vendor_sources_next_poll_at", ["next_poll_at"], unique=False)

    op.create_table(
        "vendor_states",
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("incidents", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.BigInteger(), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_vendor_states")),
    )

    op.create_table(
        "vendor_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("notified_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_events")),
    )
    with op.batch_alter_table("vendor_events", schema=None) as batch_op:
        batch_op.create_index("ix_vendor_events_service", ["service", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vendor_events", schema=None) as batch_op:
        batch_op.drop_index("ix_vendor_events_service")
    op.drop_table("vendor_events")
    op.drop_table("vendor_states")
    with op.batch_alter_table("vendor_sources", schema=None) as batch_op:
        batch_op.drop_index("ix_vendor_sources_next_poll_at")
    op.drop_table("vendor_sources")
