"""first_reports: the dedupe memory shared by the workers of the report stream

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "first_reports",
        sa.Column("reporter", sa.String(length=32), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("counted_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reporter", "service_id", name=op.f("pk_first_reports")),
    )
    op.create_index("ix_first_reports_counted_ms", "first_reports", ["counted_ms"])


def downgrade() -> None:
    op.drop_index("ix_first_reports_counted_ms", table_name="first_reports")
    op.drop_table("first_reports")
