"""where each probe and vendor source was defined: the catalog file or the admin API

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("probes", "vendor_sources")


def upgrade() -> None:
    # Every definition stored before this revision came through the admin API.
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("origin", sa.String(length=8), nullable=False, server_default="admin")
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("origin")
