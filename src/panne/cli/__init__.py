"""The command line. Thin: parse, call a stage, print; errors are one line and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from panne import __version__
from panne.cli.commands import (
    SIMULATE_SCALE_MAX,
    cmd_apikey_create,
    cmd_apikey_list,
    cmd_apikey_revoke,
    cmd_backtest,
    cmd_catalog_export,
    cmd_catalog_import,
    cmd_catalog_list,
    cmd_db_upgrade,
    cmd_probe_list,
    cmd_probe_run,
    cmd_report,
    cmd_simulate,
    cmd_vendor_list,
    cmd_vendor_poll,
    key_id,
    simulate_scale,
    simulate_seed,
)
from panne.cli.common import CliError
from panne.cli.roles import (
    cmd_detector,
    cmd_ingest,
    cmd_serve,
    cmd_web,
    cmd_worker,
    port_number,
)
from panne.clock import EARLIEST_INPUT, LATEST_INPUT, iso_utc
from panne.config import ConfigError

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
            type=port_number,
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
        "unchanged, which services' problem lists changed, and what changed of the probes "
        "and status pages. A running panne on the same database (any process) serves the "
        "new catalog within catalog_reload_seconds (5 s by default), without a restart, and "
        "runs its probes. The format: docs/api.md, 'The catalog file'.",
    )
    p.add_argument("file", help="the catalog, JSON in UTF-8 (a byte order mark is allowed)")
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
        "1 minute, 5 minutes or any other whole number of seconds from 1, inferred) and write "
        "each row back with expected, score (0 to 1) and alert (0 or 1); print the incidents "
        "found. Files in the usual export form (no quotes; UTC times such as "
        "2024-03-05T14:00:00Z; plain numbers) are read and written by compiled passes, the "
        "first time after compiling them for a few seconds; any other CSV is read row by row. "
        "A bad row is named with its number; the output is written whole or not at all.",
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
        help="ISO 8601 start of the simulated time, with a time zone (default: now, or "
        "--minutes before now with --server); the simulated time must lie between "
        f"{iso_utc(EARLIEST_INPUT)} and {iso_utc(LATEST_INPUT)}",
    )
    p.add_argument(
        "--scenario",
        choices=["random", "meta-2024", "none"],
        default="random",
        help="outages: random ones, the 5 March 2024 Meta outage, or none",
    )
    p.add_argument(
        "--scale",
        type=simulate_scale,
        default=1.0,
        help=f"volume multiplier, more than 0 and at most {SIMULATE_SCALE_MAX:g} (default 1)",
    )
    p.add_argument(
        "--growth-per-week",
        type=float,
        default=0.0,
        metavar="RATE",
        help="steady growth of the usual volume, e.g. 0.05 for 5%% more reports a week from "
        "--start (default 0)",
    )
    p.add_argument(
        "--seed",
        type=simulate_seed,
        default=0,
        help="random seed, a whole number 0 or more (default 0)",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="replay N times faster than real time (default 0: as fast as possible)",
    )
    p.add_argument("--server", metavar="URL", help="send to a running panne (needs --api-key)")
    p.add_argument("--api-key", help="a trusted key (panne apikey create NAME --trusted)")
    p.add_argument(
        "--labels",
        metavar="FILE",
        help="write the outages of the simulated time as JSON (cut at its end); the file is "
        "checked before anything is generated and written whole or not at all",
    )
    database(p)
    p.set_defaults(func=cmd_simulate)

    keys = sub.add_parser("apikey", help="API keys for batch ingestion").add_subparsers(
        dest="apikey_command", required=True, metavar="ACTION"
    )
    p = keys.add_parser("create", help="make a key (printed once)")
    p.add_argument(
        "name", help="who or what uses it, on one line (no newline or control character)"
    )
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
    p = keys.add_parser(
        "revoke", help="revoke a key; exit 1 if there is no such key or it already was revoked"
    )
    p.add_argument("id", type=key_id, help="the key's id, as panne apikey list shows it")
    database(p)
    p.set_defaults(func=cmd_apikey_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from panne.bus import LogUnavailable
    from panne.catalog import CatalogError
    from panne.leadership import NeedsPostgres
    from panne.output_file import OutputError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except (ConfigError, CatalogError, CliError, LogUnavailable, NeedsPostgres, OutputError) as exc:
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
