"""ids never reused: subscriptions, the outbox and maintenance windows AUTOINCREMENT on SQLite

Without AUTOINCREMENT, SQLite gives a new row the largest id in the table plus one, so deleting
the newest subscription handed its id to the next one, with its delivery log: the newcomer was
"told" of incidents it never heard of and got their "back to normal". PostgreSQL's sequences
never hand out an id twice, so nothing changes there.

Each table is rebuilt (Alembic's batch mode: copy, drop, rename) with AUTOINCREMENT, then the
subscriptions' counter starts above every id the delivery log and the outbox still name, so an
id deleted before this migration is not given out again either.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("subscriptions", "notification_queue", "maintenance_windows")
QUEUE = "id, subscription_id, event_id, incident_id, kind, attempts, next_at, lease_until"


def _rebuild(autoincrement: bool) -> None:
    # The outbox refers to subscriptions, and with foreign keys on SQLite checks that reference
    # when the old table is dropped (a deferral would not last: each DDL step commits). So the
    # queued messages wait in a temporary table while the tables are rebuilt.
    op.execute(f"CREATE TEMPORARY TABLE queue_kept AS SELECT {QUEUE} FROM notification_queue")
    op.execute("DELETE FROM notification_queue")
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    op.execute(f"INSERT INTO notification_queue ({QUEUE}) SELECT {QUEUE} FROM queue_kept")
    op.execute("DROP TABLE queue_kept")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(True)
    op.execute("DELETE FROM sqlite_sequence WHERE name = 'subscriptions'")
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'subscriptions', max("
        "(SELECT coalesce(max(id), 0) FROM subscriptions),"
        " (SELECT coalesce(max(subscription_id), 0) FROM deliveries),"
        " (SELECT coalesce(max(subscription_id), 0) FROM notification_queue))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(False)
