"""Alembic environment: run migrations on the connection panne hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from panne.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: build an engine from the URL option
    from panne.store.engine import make_engine

    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
else:
    _run(connection)
