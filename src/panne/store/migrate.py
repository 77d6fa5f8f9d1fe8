"""Schema migrations through Alembic, driven from panne (no alembic.ini to keep in step)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

_MIGRATE_LOCK = zlib.crc32(b"panne.migrate")
_PREPARE_LOCK = zlib.crc32(b"panne.prepare")


class UnknownRevision(SQLAlchemyError):
    """The database's schema is at a revision this panne does not know (a newer panne migrated
    it, or another program's migrations share it). An SQLAlchemyError, so that every command
    that migrates says it in one line, as it says any database that cannot be used."""


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("panne.store") / "migrations"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Processes started together (web, ingest, workers, detectors) each migrate on
            # start: one at a time, the later ones finding the schema current.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
        # Alembic would fail on such a database with a CommandError and a traceback, naming
        # the revision but not what this panne knows.
        script = ScriptDirectory.from_config(cfg)
        at = MigrationContext.configure(conn).get_current_revision()
        if at is not None and at not in {r.revision for r in script.walk_revisions()}:
            raise UnknownRevision(
                f"its schema is at revision {at!r}, which this panne does not know (its newest "
                f"is {script.get_current_head()!r}): was it migrated by a newer panne?"
            )
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


@contextmanager
def one_at_a_time(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, one process at a time in this block: processes started together must
    not both find the database empty and both fill it (the default catalog). SQLite files are
    one process's anyway."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PREPARE_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PREPARE_LOCK})
            conn.commit()
