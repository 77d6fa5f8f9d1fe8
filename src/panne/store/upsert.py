"""The one statement whose syntax differs by backend: add to a count, creating it if absent."""

from __future__ import annotations

from sqlalchemy import Engine, Insert
from sqlalchemy.dialects import postgresql, sqlite

from panne.store.schema import counts


def add_counts_statement(engine: Engine) -> Insert:
    """``INSERT … ON CONFLICT (key) DO UPDATE SET count = count + excluded.count``."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(counts)
    upsert: Insert = stmt.on_conflict_do_update(
        index_elements=[counts.c.service_id, counts.c.minute, counts.c.country, counts.c.problem],
        set_={"count": counts.c.count + stmt.excluded["count"]},
    )
    return upsert
