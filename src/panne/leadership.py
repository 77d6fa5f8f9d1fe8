"""One active detector among many: a PostgreSQL advisory lock, held by one session.

Detection, incidents and notifications must run in exactly one process, or incidents open twice
and people are told twice. Every ``panne detector`` asks PostgreSQL for the same session-level
advisory lock; the one that gets it is active, the others try again every
``leader_retry_seconds``. The lock lives as long as the session: when the active process dies,
the server ends its session and the next try of a standby gets the lock. The server is told to
notice a silent peer (a machine gone, a cable cut) within seconds through TCP keepalives, and
the active process checks its session on every try too, and stops leading once it fails. The
state the new leader needs (the detectors' state, open incidents, events not yet sent) is in
the database, written in each tick's transaction, so it resumes where the last one stopped.
"""

from __future__ import annotations

import contextlib
import threading
import zlib

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

# The lock's key, the same in every process of a deployment (advisory locks are per database).
LOCK_KEY = zlib.crc32(b"panne.detector")
_KEEPALIVES = (  # the server's view of this session: idle 5 s, then 3 probes 2 s apart
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3"
)


class NeedsPostgres(RuntimeError):
    """Leadership needs PostgreSQL's advisory locks; an SQLite file has one process anyway."""


class Leadership:
    def __init__(self, engine: Engine, key: int = LOCK_KEY) -> None:
        if engine.dialect.name != "postgresql":
            raise NeedsPostgres(
                "panne detector elects its active process through PostgreSQL: set "
                "database_url to a postgresql URL, or run every role in one process with "
                "panne serve"
            )
        self._engine = engine
        self._key = key
        self._conn: Connection | None = None

    @property
    def leading(self) -> bool:
        return self._conn is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True if this process now holds it."""
        if self._conn is not None:
            return self.still_held()
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError:
            return False
        try:
            conn.exec_driver_sql(_KEEPALIVES)
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
            )
        except DBAPIError:
            conn.close()
            return False
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        """Whether the session holding the lock is alive; if not, leadership is gone."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except DBAPIError:
            self._drop()
            return False

    def wait(self, stop: threading.Event, every: float) -> bool:
        """Try every ``every`` seconds until the lock is held (True) or ``stop`` is set."""
        while not stop.is_set():
            if self.try_acquire():
                return True
            stop.wait(every)
        return False

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(DBAPIError):  # the session is gone, and the lock with it
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()  # never back to the pool: the lock must not outlive it
            finally:
                self._conn = None
