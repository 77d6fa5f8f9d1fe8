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

_MIGRATE_LOCK = zlib.crc32(b"panne.migrate")
_PREPARE_LOCK = zlib.crc32(b"panne.prepare")


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
