"""Shared fixtures: real databases in temporary folders, a real PostgreSQL, real HTTP servers."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import uvicorn
from sqlalchemy import Engine

from panne.clock import ManualClock
from panne.config import Settings, load
from panne.node import Node
from panne.store import migrate
from panne.store.engine import make_engine
from panne.web.app import create_app

PG_ADMIN_URL = os.environ.get("PANNETEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("PANNETEST_NATS", "nats://127.0.0.1:4222")
START = 1_709_650_800.0  # 2024-03-05 15:00 UTC, a quarter of an hour before Meta fell over


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _needed(what: str, url: str, available: bool) -> str:
    """``url`` if the server answers; else the test is skipped, or fails in CI, which has it."""
    if not available:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is not reachable at {url}")
        pytest.skip(f"{what} is not running here")
    return url


@pytest.fixture(scope="session")
def pg_admin() -> str:
    return _needed("PostgreSQL", PG_ADMIN_URL, _pg_available())


@pytest.fixture
def pg_url(pg_admin: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"panne_t_{secrets.token_hex(6)}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _nats_available() -> bool:
    host, port = NATS_URL.removeprefix("nats://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def nats_url() -> str:
    return _needed("NATS", NATS_URL, _nats_available())


@pytest.fixture
def nats_stream(nats_url: str) -> Iterator[str]:
    """A stream name of one test's own on the real NATS server, deleted afterwards."""
    name = f"PANNET_{secrets.token_hex(6)}"
    yield name

    async def delete() -> None:
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(name)
        except NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(delete())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'panne.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on an SQLite file and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'panne.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A new database (SQLite, and PostgreSQL where it runs), migrated, with no services."""
    eng = make_engine(db_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def settings_for(database_url: str, **overrides: object) -> Settings:
    """Settings for a test's node. Status pages are rendered on every request, so a test that
    writes and reads again sees its write (tests/web/test_status_page.py tests the cache)."""
    return load(
        environ={},
        database_url=database_url,
        **{"status_page_cache_seconds": 0, **overrides},
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def node(sqlite_url: str, clock: ManualClock) -> Iterator[Node]:
    n = Node(settings_for(sqlite_url), clock=clock, background=False)
    n.start()
    yield n
    n.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn server on loopback, in a thread, around one Node."""

    def __init__(self, node: Node, *, start_seconds: float = 30) -> None:
        self.node = node
        self.start_seconds = start_seconds  # a benchmark's warm-up over a month takes longer
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(node),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + self.start_seconds
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def make_server(tmp_path: Path, clock: ManualClock) -> Iterator[object]:
    servers: list[LiveServer] = []

    def make(**overrides: object) -> LiveServer:
        url = f"sqlite:///{tmp_path / f'srv{len(servers)}.db'}"
        srv = LiveServer(
            Node(settings_for(url, **overrides), clock=clock, background=False)
        ).__enter__()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.__exit__()
