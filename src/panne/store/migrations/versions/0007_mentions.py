"""social mentions: per-minute counts per service and the detector's judgement of them

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mention_counts",
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("service", "minute", name=op.f("pk_mention_counts")),
    )
    op.create_table(
        "mention_expectations",
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("alert", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("service", "minute", name=op.f("pk_mention_expectations")),
    )


def downgrade() -> None:
    op.drop_table("mention_expectations")
    op.drop_table("mention_counts")
