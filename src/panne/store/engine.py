"""Connections: one place that knows how SQLite and PostgreSQL differ at connect time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, synchronous: str = "full") -> Engine:
    """An engine with the pragmas that make SQLite a safe, concurrent store.

    WAL lets readers run beside the one writer; ``synchronous=FULL`` makes a commit durable
    before it returns, which is what "accepted" means for a report; ``busy_timeout`` makes a
    second process wait for the lock instead of failing.
    """
    parsed = make_url(url)
    if not is_sqlite(url):
        if not parsed.database and "dbname" not in parsed.query:
            # The driver would connect to the user's default database, often the `postgres`
            # maintenance database, and migrate it. (Settings refuse this first, naming it.)
            raise ArgumentError(f"{parsed!r} names no database: add /DBNAME to the URL")
        return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    sync = {"full": "FULL", "normal": "NORMAL"}[synchronous]

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={sync}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine
