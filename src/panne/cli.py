"""The command line. Thin: parse, call a stage, print; errors are one line and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from panne import __version__
from panne.config import ConfigError, Settings, load

Command = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    return load(
        Path(args.config) if getattr(args, "config", None) else None,
        database_url=getattr(args, "database", None),
        **extra,
    )


def _node(args: argparse.Namespace) -> Any:
    from panne.node import Node

    node = Node(_settings(args))
    node.prepare_database()
    node.reload_catalog()
    return node


# -- serve ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from panne.node import Roles

    return _serve(args, Roles(), ingest_only=False)


def cmd_web(args: argparse.Namespace) -> int:
    from panne.node import Roles

    return _serve(args, Roles(detect=False, work=False), ingest_only=False)


def cmd_ingest(args: argparse.Namespace) -> int:
    from panne.node import Roles

    return _serve(args, Roles(detect=False, work=False), ingest_only=True)


def _serve(args: argparse.Namespace, roles: Any, *, ingest_only: bool) -> int:
    from panne.node import Node
    from panne.web import server
    from panne.web.app import create_app

    demo = True if getattr(args, "demo", False) else None
    settings = _settings(args, host=args.host, port=args.port, demo=demo)
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


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (1 to 65535): {text!r}")
    return int(text)


def _serve_metrics(args: argparse.Namespace, metrics: Any) -> None:
    """``--metrics-port``: /metrics of a role that has no web server, in a thread."""
    if args.metrics_port is None:
        return
    from prometheus_client import start_http_server

    try:
        start_http_server(args.metrics_port, addr=args.metrics_host, registry=metrics.registry)
    except OSError as exc:
        raise CliError(
            f"cannot serve metrics on {args.metrics_host}:{args.metrics_port} "
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

    settings = _settings(args)
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
    worker = Worker(engine, stream, max_batch=settings.commit_batch_max, metrics=metrics)
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

    settings = _settings(args)
    _logging(settings)
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


# -- report --------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    import httpx

    body: dict[str, str] = {"service": args.service, "problem": args.problem}
    if args.country:
        body["country"] = args.country
    url = args.url.rstrip("/") + "/api/v1/reports"
    try:
        resp = httpx.post(url, json=body, timeout=10)
    except httpx.UnsupportedProtocol:
        raise CliError(f"--url {args.url!r} is not an http:// or https:// URL") from None
    except httpx.InvalidURL as exc:
        raise CliError(f"--url {args.url!r} is not a valid URL: {exc}") from None
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {args.url}: {exc}") from None
    try:
        data = resp.json()
    except ValueError:
        data = None
    if resp.status_code != 202:
        detail = data.get("detail", resp.text) if isinstance(data, dict) else resp.text
        raise CliError(f"refused ({resp.status_code}): {' '.join(str(detail).split())[:300]}")
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise CliError(f"{args.url} answered 202 without a report id: is it a panne server?")
    note = "" if data.get("counted", True) else " (already counted in the last minutes)"
    print(f"report {data['id']} accepted{note}")
    return 0


# -- db ------------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from panne.store import migrate
    from panne.store.engine import make_engine

    settings = _settings(args)
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    print(f"database at revision {migrate.current(engine)} ({settings.database_url})")
    return 0


# -- catalog -------------------------------------------------------------------------------


def cmd_catalog_list(args: argparse.Namespace) -> int:
    cat = _node(args).catalog
    width = max((len(s.slug) for s in cat.services.values()), default=4)
    for svc in sorted(cat.services.values(), key=lambda s: s.slug):
        print(
            f"{svc.slug:<{width}}  {svc.name:<28} {svc.group or '-':<12} {', '.join(svc.problems)}"
        )
    print(f"{len(cat.services)} services in {len(cat.groups)} groups")
    return 0


def cmd_catalog_import(args: argparse.Namespace) -> int:
    from panne.catalog import load_file
    from panne.signals.definition_guard import catalog_refusal
    from panne.store import catalog as catalog_store

    incoming = load_file(Path(args.file))
    settings = _settings(args)
    refused = catalog_refusal(
        incoming,
        probe_allow_private=settings.probe_allow_private,
        vendor_allow_private=settings.vendor_allow_private,
    )
    if refused is not None:
        raise CliError(refused)  # worded as the file's other errors
    node = _node(args)
    done = catalog_store.import_catalog(node.engine, incoming, now=node.clock.now())
    svc, probes, pages = done
    print(
        f"imported {args.file}: {svc.added} services added, {svc.updated} updated, "
        f"{svc.unchanged} unchanged; probes {probes.added} added, {probes.updated} updated, "
        f"{probes.removed} removed; status pages {pages.added} added, {pages.updated} updated, "
        f"{pages.removed} removed"
    )
    return 0


def cmd_catalog_export(args: argparse.Namespace) -> int:
    cat = _node(args).catalog
    text = json.dumps(cat.to_dict(), ensure_ascii=False, indent=2) + "\n"
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(cat.services)} services to {args.output}", file=sys.stderr)
    return 0


# -- apikey --------------------------------------------------------------------------------


def cmd_apikey_create(args: argparse.Namespace) -> int:
    from panne.store import keys

    node = _node(args)
    key, plain = keys.create(
        node.engine, args.name, trusted=args.trusted, now_ms=int(node.clock.now() * 1000)
    )
    print(plain)
    print(
        f"key {key.id} ({key.name}{', trusted' if key.trusted else ''}) created; "
        "it is shown only this once",
        file=sys.stderr,
    )
    return 0


def cmd_apikey_list(args: argparse.Namespace) -> int:
    from panne.store import keys

    for key in keys.list_keys(_node(args).engine):
        state = "revoked" if key.revoked else ("trusted" if key.trusted else "active")
        print(f"{key.id:>4}  {key.prefix}…  {state:<8} {key.name}")
    return 0


def cmd_apikey_revoke(args: argparse.Namespace) -> int:
    from panne.store import keys

    if not keys.revoke(_node(args).engine, args.id):
        raise CliError(f"no API key with id {args.id}")
    print(f"key {args.id} revoked")
    return 0


# -- probe ---------------------------------------------------------------------------------


def cmd_probe_list(args: argparse.Namespace) -> int:
    from panne.store import probe_defs

    found = probe_defs.list_probes(_node(args).engine)
    for p in found:
        state = "paused" if p.paused else p.state
        print(f"{p.spec.id:<24} {p.spec.service:<16} {p.spec.kind:<4}  {state:<7}  {p.spec.target}")
    print(f"{len(found)} probes")
    return 0


def cmd_probe_run(args: argparse.Namespace) -> int:
    node = _node(args)
    try:
        runs = node.probe_once()
    finally:
        node.engine.dispose()
    for run in runs:
        r = run.result
        outcome = "ok" if r.ok else r.error_class
        print(
            f"{run.spec.id:<24} {run.spec.service:<16} {run.spec.kind:<4}  {outcome:<18} "
            f"{r.latency_ms:8.1f} ms  {run.state:<7}  {r.detail}"
        )
    failed = sum(not run.result.ok for run in runs)
    down = sum(run.state == "down" for run in runs)
    print(f"{len(runs)} probes run, {failed} failed, {down} down", file=sys.stderr)
    return 1 if failed or down else 0


# -- vendor --------------------------------------------------------------------------------


def cmd_vendor_list(args: argparse.Namespace) -> int:
    from panne.store import vendor_status as vendor_store

    engine = _node(args).engine
    states = vendor_store.load_states(engine)
    rows = vendor_store.load_sources(engine)
    for row in rows:
        s, state = row.source, states.get(row.source.service)
        shown = "unknown" if state is None else state.state + (" (stale)" if state.stale else "")
        print(f"{s.service:<16} {s.kind:<10} {s.interval_seconds:>6} s  {shown:<19} {s.url}")
    print(f"{len(rows)} vendor sources")
    return 0


def cmd_vendor_poll(args: argparse.Namespace) -> int:
    node = _node(args)
    try:
        states = node.vendor_once()
    finally:
        node.engine.dispose()
    for st in states:
        stale = "stale" if st.stale else "fresh"
        print(f"{st.service:<16} {st.state:<11} {stale:<5}  {st.error or st.description}")
    failed = sum(st.stale for st in states)
    print(f"{len(states)} vendor sources polled, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


# -- backtest and simulate ------------------------------------------------------------------


def cmd_backtest(args: argparse.Namespace) -> int:
    from panne.detect.backtest import BacktestError, format_incidents, run_backtest

    try:
        result = run_backtest(Path(args.input), Path(args.output), series_column=args.series)
    except BacktestError as exc:
        raise CliError(str(exc)) from None
    print(format_incidents(result))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from panne.simulate.run import SimulateError, simulate

    try:
        simulate(args, print)
    except SimulateError as exc:
        raise CliError(str(exc)) from None
    return 0


# -- the parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="panne", description="Open outage detection from crowd reports."
    )
    parser.add_argument("--version", action="version", version=f"panne {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (or $PANNE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def database(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--database",
            metavar="URL",
            help="database URL (or $PANNE_DATABASE_URL; default sqlite:///panne.db)",
        )

    def listening(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, help="port to listen on (default 8080)")
        database(p)

    p = sub.add_parser(
        "serve",
        help="run every role in one process: API, ingest, detection",
        description="Run every role in one process: API, pages, ingest, detection, "
        "notifications, probes, vendors. The address is taken first, so a busy port or a "
        "wrong host fails at once, naming the option; 'serving on URL' is printed once the "
        "server listens.",
    )
    listening(p)
    p.add_argument(
        "--demo",
        action="store_true",
        help="feed realistic synthetic traffic with an outage every so often",
    )
    p.set_defaults(func=cmd_serve)

    def metrics_port(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--metrics-port",
            type=int,
            metavar="PORT",
            help="serve Prometheus metrics at http://HOST:PORT/metrics (default: none)",
        )
        p.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                       help="address of the metrics server (default %(default)s)")  # fmt: skip

    # The roles of `panne serve`, one process each, when one machine is not enough.
    scale = (
        " Several processes share a PostgreSQL database; with nats_url (PANNE_NATS_URL) the "
        "reports taken go to NATS JetStream, and panne worker stores them."
    )
    p = sub.add_parser(
        "web",
        help="serve the pages and APIs (reports too), without detection",
        description="Serve the pages, the JSON and Statuspage APIs, feeds and badges, and take "
        "reports; detection runs in panne detector." + scale,
    )
    listening(p)
    p.set_defaults(func=cmd_web)

    p = sub.add_parser(
        "ingest",
        help="take reports over HTTP, nothing else",
        description="Serve only the report endpoints (POST /api/v1/reports and "
        "/api/v1/reports/batch), /healthz and /metrics: a report is answered 202 once it is "
        "durable, committed or acked by JetStream." + scale,
    )
    listening(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "worker",
        help="store and count the report stream (NATS JetStream)",
        description="Consume the report stream into the database, counted; run as many as "
        "needed, they share the stream. Needs nats_url (PANNE_NATS_URL).",
    )
    database(p)
    metrics_port(p)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser(
        "detector",
        help="detection, incidents, notifications, probes: one active, others standing by",
        description="Run detection each tick, incidents, notifications, probes, vendors' "
        "status pages and mentions. Start several: one is active (a PostgreSQL advisory "
        "lock), the others stand by and take over within leader_retry_seconds of its end. "
        "Needs PostgreSQL. An active one that loses its database session exits with status "
        "1, for its supervisor to start it again.",
    )
    database(p)
    metrics_port(p)
    p.set_defaults(func=cmd_detector)

    p = sub.add_parser("report", help="send one report to a running server")
    p.add_argument("service", help="service slug, e.g. facebook")
    p.add_argument("problem", help="problem slug, e.g. login")
    p.add_argument("--country", help="ISO 3166-1 alpha-2 code (default: from your address)")
    p.add_argument(
        "--url", default="http://127.0.0.1:8080", help="the server (default %(default)s)"
    )
    p.set_defaults(func=cmd_report)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    p = db.add_parser("upgrade", help="apply the migrations")
    database(p)
    p.set_defaults(func=cmd_db_upgrade)

    cat = sub.add_parser("catalog", help="the services catalog").add_subparsers(
        dest="catalog_command", required=True, metavar="ACTION"
    )
    p = cat.add_parser("list", help="list the services")
    database(p)
    p.set_defaults(func=cmd_catalog_list)
    p = cat.add_parser(
        "import",
        help="add or update services, their probes and status pages from a JSON catalog file",
        description="Add or update the problems, groups and services of a JSON catalog file "
        "(the format of `panne catalog export`); no service is deleted. A service's `probes` "
        "and `status_page`, in the admin API's JSON shape, replace those the catalog defined "
        "for it before: a probe or status page left out of the file is removed, one defined "
        "through the admin API is never touched, and a file that would replace one is "
        "refused. The file is checked whole first, as the admin API checks a definition "
        "(address guard included, unless probe_allow_private or vendor_allow_private), so a "
        "bad one changes nothing. Prints how many services were added, updated and "
        "unchanged, and what changed of the probes and status pages. A running panne on the "
        "same database (any process) serves the new catalog within catalog_reload_seconds "
        "(5 s by default), without a restart, and runs its probes. The format: docs/api.md, "
        "'The catalog file'.",
    )
    p.add_argument("file", help="the catalog, JSON in UTF-8")
    database(p)
    p.set_defaults(func=cmd_catalog_import)
    p = cat.add_parser(
        "export",
        help="write the catalog as JSON",
        description="Write the catalog as JSON, in the format `panne catalog import` reads: "
        "problems, groups and services, with the probes and status pages the catalog defined "
        "(not those defined through the admin API).",
    )
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    database(p)
    p.set_defaults(func=cmd_catalog_export)

    probe = sub.add_parser("probe", help="active probes of services").add_subparsers(
        dest="probe_command", required=True, metavar="ACTION"
    )
    p = probe.add_parser("list", help="list the stored probes and their state")
    database(p)
    p.set_defaults(func=cmd_probe_list)
    p = probe.add_parser(
        "run",
        help="run every enabled probe once, record the results; exit 1 if any failed or is down",
        description="Run every enabled probe once (with its retries), record the results and "
        "state changes, and print one line per probe: id, service, kind, ok or the error "
        "class, latency, state, detail. Exit status 1 if any probe failed or is down.",
    )
    database(p)
    p.set_defaults(func=cmd_probe_run)

    vendor = sub.add_parser("vendor", help="vendors' official status pages").add_subparsers(
        dest="vendor_command", required=True, metavar="ACTION"
    )
    p = vendor.add_parser("list", help="list the vendor sources and their latest state")
    database(p)
    p.set_defaults(func=cmd_vendor_list)
    p = vendor.add_parser(
        "poll",
        help="poll every vendor source once, record the states; exit 1 if any poll failed",
        description="Poll every vendor source once now, due or not, record the states and their "
        "changes, and print one line per service: service, state (up, warn, down, maintenance "
        "or unknown), fresh or stale, then the error of a failed poll or the vendor's "
        "description. Exit status 1 if any poll failed.",
    )
    database(p)
    p.set_defaults(func=cmd_vendor_poll)

    p = sub.add_parser(
        "backtest",
        help="run the detector over a CSV of counts",
        description="Run the live detector, unchanged, over a CSV of counts (a regular step, "
        "1 minute, 5 minutes or any other, inferred) and write each row back with expected, "
        "score (0 to 1) and alert (0 or 1); print the incidents found. Files in the usual "
        "export form (no quotes; UTC times such as 2024-03-05T14:00:00Z; plain numbers) are "
        "read and written by compiled passes, the first time after compiling them for a few "
        "seconds; any other CSV is read row by row. A bad row is named with its number.",
    )
    p.add_argument("input", help="CSV with columns timestamp (ISO 8601) and count")
    p.add_argument(
        "-o", "--output", required=True, help="CSV to write, with expected, score, alert"
    )
    p.add_argument("--series", metavar="COLUMN", help="column naming the series of each row")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser(
        "simulate",
        help="generate realistic traffic into a database or a server",
        description="Generate realistic traffic (daily and weekly rhythms, countries, outages) "
        "and write it into a database, or send it to a running panne with --server. A server "
        "refuses reports from the future, so with --server the simulated time ends now by "
        "default, and a --start or --speed that would run ahead of the clock is refused before "
        "anything is sent.",
    )
    p.add_argument("--minutes", type=float, default=60.0, help="how much traffic (default 60)")
    p.add_argument(
        "--start",
        help="ISO 8601 start of the simulated time (default: now, or --minutes before now "
        "with --server)",
    )
    p.add_argument(
        "--scenario",
        choices=["random", "meta-2024", "none"],
        default="random",
        help="outages: random ones, the 5 March 2024 Meta outage, or none",
    )
    p.add_argument("--scale", type=float, default=1.0, help="volume multiplier (default 1)")
    p.add_argument(
        "--growth-per-week",
        type=float,
        default=0.0,
        metavar="RATE",
        help="steady growth of the usual volume, e.g. 0.05 for 5%% more reports a week from "
        "--start (default 0)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="replay N times faster than real time (default 0: as fast as possible)",
    )
    p.add_argument("--server", metavar="URL", help="send to a running panne (needs --api-key)")
    p.add_argument("--api-key", help="a trusted key (panne apikey create NAME --trusted)")
    p.add_argument("--labels", metavar="FILE", help="write the generated outages as JSON")
    database(p)
    p.set_defaults(func=cmd_simulate)

    keys = sub.add_parser("apikey", help="API keys for batch ingestion").add_subparsers(
        dest="apikey_command", required=True, metavar="ACTION"
    )
    p = keys.add_parser("create", help="make a key (printed once)")
    p.add_argument("name")
    p.add_argument(
        "--trusted",
        action="store_true",
        help="the key may set report timestamps (imports, replays)",
    )
    database(p)
    p.set_defaults(func=cmd_apikey_create)
    p = keys.add_parser("list", help="list keys (never the keys themselves)")
    database(p)
    p.set_defaults(func=cmd_apikey_list)
    p = keys.add_parser("revoke", help="revoke a key")
    p.add_argument("id", type=int)
    database(p)
    p.set_defaults(func=cmd_apikey_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from panne.bus import LogUnavailable
    from panne.catalog import CatalogError
    from panne.leadership import NeedsPostgres

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except (ConfigError, CatalogError, CliError, LogUnavailable, NeedsPostgres) as exc:
        print(f"panne: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
    except OSError as exc:  # a database file where none can be, a port taken…
        print(f"panne: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:  # a server that does not answer, a database that is not one
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"panne: the database cannot be used: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
