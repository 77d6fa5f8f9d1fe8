"""One active detector: the advisory lock on the real PostgreSQL server."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from panne.leadership import LOCK_KEY, Leadership, NeedsPostgres
from panne.store.engine import make_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


def test_one_holds_the_lock_and_the_next_takes_it_when_released(pg_engine: Engine) -> None:
    a, b = Leadership(pg_engine), Leadership(pg_engine)
    assert a.try_acquire() and a.leading
    assert not b.try_acquire() and not b.leading
    assert a.try_acquire()  # asking again while holding it: still held
    a.release()
    assert not a.leading
    assert b.try_acquire()
    b.release()


def test_a_session_that_ends_ends_the_leadership(pg_engine: Engine, pg_admin: str) -> None:
    """The server ends the active process's session (the process died, the network went):
    the lock is free for a standby, and the old leader finds out on its next check."""
    a, b = Leadership(pg_engine), Leadership(pg_engine)
    assert a.try_acquire()
    with psycopg.connect(pg_admin, autocommit=True) as admin:
        (n,) = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
            "WHERE locktype = 'advisory' AND objid = %s",
            (LOCK_KEY & 0xFFFFFFFF,),
        ).fetchone() or (0,)
    assert n == 1
    stop = threading.Event()
    assert b.wait(stop, every=0.1)
    assert not a.still_held() and not a.leading
    b.release()


def test_each_database_has_its_own_leader(pg_engine: Engine, pg_admin: str) -> None:
    name = f"panne_t_{secrets.token_hex(6)}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    other = make_engine(pg_engine.url.set(database=name).render_as_string(hide_password=False))
    try:
        a, b = Leadership(pg_engine), Leadership(other)
        assert a.try_acquire() and b.try_acquire()
        a.release()
        b.release()
    finally:
        other.dispose()
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_standby_waits_until_stopped(pg_engine: Engine) -> None:
    a, b = Leadership(pg_engine), Leadership(pg_engine)
    assert a.try_acquire()
    stop = threading.Event()
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(b.wait(stop, every=0.05)))
    t.start()
    t.join(timeout=0.5)
    assert t.is_alive()  # still standing by
    stop.set()
    t.join(timeout=5)
    assert result == [False] and not b.leading
    a.release()


def test_sqlite_has_no_election(tmp_path: object) -> None:
    eng = make_engine(f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(NeedsPostgres, match="panne serve"):
        Leadership(eng)
    eng.dispose()
