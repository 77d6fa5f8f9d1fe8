"""The roles as commands: `panne serve` runs them all; `web`, `ingest`, `worker` and
`detector` one each, for when one machine is not enough."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from panne.cli.common import CliError, settings_from
from panne.config import Settings, host_port

if TYPE_CHECKING:  # the commands import what they run when they run it
    from panne.metrics import Metrics
    from panne.node import Roles


def cmd_serve(args: argparse.Namespace) -> int:
    from panne.node import Roles

    return _serve(args, Roles(), ingest_only=False)


def cmd_web(args: argparse.Namespace) -> int:
    from panne.node import Roles

    return _serve(args, Roles(detect=False, work=False), ingest_only=False)


def cmd_ingest(args: argparse.Namespace) -> int:
    from panne.node import Roles

    return _serve(args, Roles(detect=False, work=False), ingest_only=True)


def _serve(args: argparse.Namespace, roles: Roles, *, ingest_only: bool) -> int:
    from panne.node import Node
    from panne.web import server
    from panne.web.app import create_app

    demo = True if getattr(args, "demo", False) else None
    settings = settings_from(args, host=args.host, port=args.port, demo=demo)
    _logging(settings)
    # The port first: a busy port or a wrong host must fail in a second, before migrating and
    # warming up for nothing; uvicorn then serves on this very socket.
    try:
        sock = server.listen(settings.host, settings.port)
    except server.ListenError as exc:
        raise CliError(str(exc)) from None
    try:
        node = Node(settings, roles=roles)
        node.prepare_database()  # a database that cannot be used is one line, not a traceback
        if settings.nats_url:
            node.writer.start()  # likewise a stream that cannot be reached
        server.serve(create_app(node, ingest_only=ingest_only), sock, settings)
    finally:
        sock.close()
    return 0


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for the roles that have no server to stop them."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def port_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (1 to 65535): {text!r}")
    return int(text)


def _serve_metrics(args: argparse.Namespace, metrics: Metrics) -> None:
    """``--metrics-port``: /metrics of a role that has no web server, in a thread."""
    if args.metrics_port is None:
        return
    from prometheus_client import start_http_server

    try:
        start_http_server(args.metrics_port, addr=args.metrics_host, registry=metrics.registry)
    except OSError as exc:
        raise CliError(
            f"cannot serve metrics on {host_port(args.metrics_host, args.metrics_port)} "
            f"(--metrics-host/--metrics-port): {exc.strerror or exc}"
        ) from None


def cmd_worker(args: argparse.Namespace) -> int:
    import asyncio

    from panne.bus.jetstream import Stream
    from panne.clock import SystemClock
    from panne.metrics import Metrics
    from panne.store import migrate
    from panne.store.engine import make_engine
    from panne.worker_role import Worker

    settings = settings_from(args)
    _logging(settings)
    if not settings.nats_url:
        raise CliError(
            "panne worker stores the report stream, and there is none: set nats_url "
            "(PANNE_NATS_URL), as for the ingest and web processes"
        )
    engine = make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    migrate.upgrade(engine)
    stream = Stream.of(settings)
    metrics = Metrics(engine, SystemClock())
    _serve_metrics(args, metrics)
    worker = Worker(
        engine,
        stream,
        dedupe_window_seconds=settings.dedupe_window_minutes * 60,
        metrics=metrics,
    )
    stop = _stop_on_signals()

    def ready() -> None:
        print(f"panne worker storing stream {stream.name} into {settings.database_url}", flush=True)

    try:
        asyncio.run(worker.serve(stop, ready))
    finally:
        engine.dispose()
    return 0


def cmd_detector(args: argparse.Namespace) -> int:
    from panne.leadership import Leadership
    from panne.node import Node, Roles
    from panne.store.engine import is_sqlite

    settings = settings_from(args)
    _logging(settings)
    if is_sqlite(settings.database_url):
        # Refused before the node exists: it would create the file (and its folder), migrate
        # it and load the catalog, for a process that cannot run on it; Leadership's own
        # check comes only once the node has an engine to ask.
        raise CliError(
            "panne detector elects its active process through PostgreSQL, and database_url "
            f"is an SQLite file ({settings.database_url}): set it (--database, "
            "PANNE_DATABASE_URL) to a postgresql+psycopg:// URL, or run every role in one "
            "process with panne serve"
        )
    node = Node(settings, roles=Roles(ingest=False, detect=True, work=False))
    node.prepare_database()
    leadership = Leadership(node.engine)
    _serve_metrics(args, node.metrics)  # a standby's too: panne_detector_active 0
    stop = _stop_on_signals()
    every = settings.leader_retry_seconds
    print(f"panne detector (pid {os.getpid()}) standing by", flush=True)
    if not leadership.wait(stop, every):
        return 0
    try:
        node.start()
        print(f"panne detector (pid {os.getpid()}) active", flush=True)
        while not stop.wait(every):
            if not leadership.still_held():
                # Another process may be active by now: stop at once, and let the supervisor
                # start this one again, as a standby.
                print("panne: lost the detector lock (database session ended)", file=sys.stderr)
                return 1
    finally:
        node.stop()
        leadership.release()
    return 0
