"""Settings: one TOML file plus ``PANNE_*`` environment variables, parsed strictly.

Every setting is a field of :class:`Settings` with its documentation in the field's metadata, so
the reference in docs/configuration.md is checked against this one list (tests/test_config.py).
A bad value stops start-up with a one-line :class:`ConfigError` naming the setting; an unknown key
is an error too, because a misspelt setting that is silently ignored is worse than none.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

ENV_PREFIX = "PANNE_"


class ConfigError(ValueError):
    """A setting is missing, unknown or invalid; the message names it."""


def _doc(text: str, **kw: Any) -> Any:
    return field(metadata={"doc": text}, **kw)


@dataclass(frozen=True)
class Settings:
    database_url: str = _doc(
        "SQLAlchemy URL of the database: `sqlite:///panne.db` (the default, a file in the "
        "working directory) or `postgresql+psycopg://user@host/db`. Only the drivers panne "
        "installs are accepted: Python's sqlite3 (`sqlite://`, `sqlite+pysqlite://`) and "
        "psycopg 3 (`postgresql+psycopg://`; `postgresql://` too on SQLAlchemy 2.1, which "
        "takes it for psycopg); `postgresql+psycopg2://`, `postgresql+asyncpg://` and other "
        "drivers are refused.",
        default="sqlite:///panne.db",
    )
    host: str = _doc(
        "Address `panne serve` listens on: an IP address (`0.0.0.0` or `::` for every "
        "interface) or a host name.",
        default="127.0.0.1",
    )
    port: int = _doc("Port `panne serve` listens on.", default=8080)
    base_url: str = _doc(
        "Public URL of this panne, used in links it sends out: an absolute `http://` or "
        "`https://` URL, with an optional port and path but no query, fragment, user or "
        "whitespace, such as `https://status.example.org/panne`. Empty means "
        "`http://HOST:PORT` (`http://[HOST]:PORT` for an IPv6 address).",
        default="",
    )
    trusted_proxies: tuple[str, ...] = _doc(
        "Networks (CIDR) whose `X-Forwarded-For` header is believed. Comma-separated in the "
        "environment. Empty: the client address is always the TCP peer.",
        default=(),
    )
    embed_origins: tuple[str, ...] = _doc(
        "Sites allowed to show the report widget (`/embed/SERVICE` in an iframe): origins such "
        "as `https://bank.example` (scheme, host, optional port, no path; `https://*.bank.example` "
        "for its subdomains), or `*` for any site. Comma-separated in the environment. Empty: "
        "the widget page answers but no site can frame it.",
        default=(),
    )
    dedupe_window_minutes: int = _doc(
        "A reporter reporting the same service again within this many minutes is answered 202 "
        "but counted once (at most 1440: fingerprints link a reporter across one midnight only).",
        default=15,
    )
    reporter_rate_per_minute: float = _doc(
        "Token bucket refill rate per reporter (keyed hash of address and user agent).",
        default=10.0,
    )
    reporter_burst: int = _doc("Token bucket size per reporter.", default=20)
    network_rate_per_minute: float = _doc(
        "Token bucket refill rate per client network (IPv4 /24, IPv6 /48).", default=600.0
    )
    network_burst: int = _doc("Token bucket size per client network.", default=1200)
    rate_limit: bool = _doc(
        "Apply the per-reporter and per-network rate limits (turn off only for load tests).",
        default=True,
    )
    max_body_bytes: int = _doc("Largest request body accepted, except batches.", default=16_384)
    batch_max_body_bytes: int = _doc(
        "Largest body accepted by `POST /api/v1/reports/batch`.", default=8_388_608
    )
    batch_max_reports: int = _doc(
        "Most reports accepted in one batch (at most 10,000).", default=10_000
    )
    commit_batch_max: int = _doc(
        "Most reports the writer commits in one transaction (group commit).", default=2048
    )
    nats_url: tuple[str, ...] = _doc(
        "NATS servers with JetStream for the report stream, such as `nats://127.0.0.1:4222` "
        "(comma-separated in the environment). Set, a process that takes reports publishes "
        "them to the stream and answers 202 once JetStream has stored them, and `panne worker` "
        "processes store and count them. Empty: each process commits the reports it takes.",
        default=(),
    )
    nats_stream: str = _doc(
        "Name of the JetStream stream of reports (letters, digits, `-` and `_`); its subject "
        "is `NAME.reports`. Deployments sharing one NATS server need different names.",
        default="PANNE_REPORTS",
    )
    nats_stream_replicas: int = _doc(
        "Copies JetStream keeps of each report (1 to 5, at most the cluster's servers): with 3 "
        "on a three-server cluster, a report acked is on two servers at least, and the stream "
        "goes on when one server dies.",
        default=1,
    )
    nats_stream_max_bytes: int = _doc(
        "Most bytes the stream holds (at least 1 MiB) while workers are behind; when full, "
        "reports are refused with 503 and `Retry-After` until workers catch up, never dropped.",
        default=1_073_741_824,
    )
    leader_retry_seconds: float = _doc(
        "How often a standing-by `panne detector` tries to become the active one, and the "
        "active one checks that it still is (at most 3600).",
        default=2.0,
    )
    sqlite_synchronous: str = _doc(
        "SQLite `synchronous` pragma: `full` (an accepted report survives power loss) or "
        "`normal` (survives a crash of panne, not of the machine).",
        default="full",
    )
    detect_interval_seconds: float = _doc(
        "How often the live detector evaluates every series (at most 3600).", default=10.0
    )
    detect_warmup_days: float = _doc(
        "On a first start, how many days of stored counts the detectors learn from (0 to 366).",
        default=7.0,
    )
    status_page_cache_seconds: float = _doc(
        "How long a public status page (`/status/{group}`, `/status?services=`) is served as "
        "rendered, per address and language (0 to 300; 0 renders every request). During an "
        "outage its readers all ask for the same few pages at once.",
        default=5.0,
    )
    catalog_reload_seconds: float = _doc(
        "How often a running node checks whether the catalog changed (`panne catalog import`, "
        "from any process sharing the database) and reloads it (at most 86400).",
        default=5.0,
    )
    probe_allow_private: bool = _doc(
        "Let probes reach private, loopback, link-local, multicast and reserved addresses "
        "(checked after name resolution). Off, a probe of such a target fails with a clear "
        "error; turn on for tests or to monitor an internal network.",
        default=False,
    )
    probe_concurrency: int = _doc(
        "Most probe attempts in flight at once, per probe process.", default=500
    )
    probe_reload_seconds: float = _doc(
        "How often the probe role re-reads the stored probe definitions (changes made through "
        "this process's admin API apply at once).",
        default=30.0,
    )
    probe_results_keep_days: int = _doc(
        "Probe results older than this many days are deleted, once a day.", default=90
    )
    probe_cert_warning_days: float = _doc(
        "An HTTPS or TLS probe fails with `cert_expiring` when the certificate ends within this "
        "many days.",
        default=14.0,
    )
    notify_allow_private: bool = _doc(
        "Let webhook notifications reach private, loopback, link-local and reserved addresses "
        "(checked after name resolution). Off, such a webhook is refused and its subscription "
        "disabled; turn on for tests or for receivers on an internal network.",
        default=False,
    )
    notify_max_failures: int = _doc(
        "A subscription is marked failing after this many consecutive events whose delivery "
        "gave up after every retry (it is still tried; a permanent error disables it at once).",
        default=5,
    )
    notify_flap_minutes: float = _doc(
        "An incident that reopens within this many minutes of a resolution is sent as one "
        '"back again" message at most once per this many minutes, per subscription.',
        default=30.0,
    )
    notify_interval_seconds: float = _doc(
        "How often the notifier claims new incident events and sends what is due.",
        default=5.0,
    )
    notify_timeout_seconds: float = _doc(
        "Timeout of one webhook request (connect, read, write and pool, each).", default=10.0
    )
    vendor_allow_private: bool = _doc(
        "Let vendors' status pages and feeds be fetched from private, loopback, link-local and "
        "reserved addresses (checked after name resolution, on every connection). Off, such a "
        "source fails with a clear error kept in its state; turn on for tests or for a status "
        "page on an internal network.",
        default=False,
    )
    vendor_timeout_seconds: float = _doc(
        "Timeout of one request for a vendor's status page or feed (connect, read, write and "
        "pool, each).",
        default=10.0,
    )
    vendor_max_backoff_seconds: float = _doc(
        "After failures a vendor source is polled again after its interval times 2, 4, 8 … "
        "but never later than this many seconds (nor sooner than its interval).",
        default=3600.0,
    )
    vendor_feed_open_hours: float = _doc(
        "An RSS or Atom feed item newer than this many hours whose title and summary do not "
        "say resolved or completed counts as an open incident of the vendor.",
        default=6.0,
    )
    social_source: str = _doc(
        "Where the mentions role reads social posts: `jsonl:PATH` follows a JSON-lines file "
        '(one `{"text", "id"?, "created_at"?, "lang"?}` a line, read from its end as '
        "it grows, like `tail -f`), `mastodon:URL` a Mastodon streaming endpoint (such as "
        "`https://mastodon.social/api/v1/streaming/public`). Empty: no mentions role.",
        default="",
    )
    social_token: str = _doc(
        "Access token sent to the Mastodon streaming endpoint of `social_source` (empty: none). "
        "Never shown in logs or reprs.",
        default="",
        repr=False,
    )
    demo: bool = _doc(
        "Feed realistic synthetic traffic (with an outage every so often) into this server.",
        default=False,
    )
    log_level: str = _doc("Logging level: debug, info, warning or error.", default="info")

    def public_url(self) -> str:
        return self.base_url.rstrip("/") or f"http://{host_port(self.host, self.port)}"


def host_port(host: str, port: int) -> str:
    """``host:port`` as a URL writes it: an IPv6 address in brackets, or its colons would run
    into the port's (``http://:::8080``). Host names never hold a colon."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_CHOICES: dict[str, tuple[str, ...]] = {
    "sqlite_synchronous": ("full", "normal"),
    "log_level": ("debug", "info", "warning", "error"),
}


# An origin as the embed page's CSP frame-ancestors lists it: nothing in it may end or extend the
# policy (no space, ";", "," or quote), and no path, since a frame's ancestors are known only by
# their origins.
_ORIGIN = re.compile(
    r"https?://(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*"
    r"[A-Za-z0-9])?)*(?::(?P<port>[1-9][0-9]{0,4}))?"
)


def _is_origin(text: str) -> bool:
    match = _ORIGIN.fullmatch(text)
    return match is not None and int(match["port"] or 1) <= 65535


def documented_settings() -> dict[str, str]:
    """Each setting's name and documentation, in declaration order."""
    return {f.name: f.metadata["doc"] for f in fields(Settings)}


def _coerce(name: str, kind: Any, raw: Any, *, from_env: bool) -> Any:
    where = f"{ENV_PREFIX}{name.upper()}" if from_env else name
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            if from_env and isinstance(raw, str) and raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if from_env and isinstance(raw, str) and raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError
            if isinstance(raw, int):
                return raw
            if from_env and isinstance(raw, str):
                return int(raw)
            raise ValueError
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError
            if isinstance(raw, int | float):
                return float(raw)
            if from_env and isinstance(raw, str):
                return float(raw)
            raise ValueError
        if kind is str:
            if isinstance(raw, str):
                return raw
            raise ValueError
        if kind == tuple[str, ...]:
            if from_env and isinstance(raw, str):
                return tuple(p.strip() for p in raw.split(",") if p.strip())
            if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
                return tuple(raw)
            raise ValueError
    except ValueError:
        pass
    expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    raise ConfigError(f"{where}: expected {expected.get(kind, 'a list of strings')}, got {raw!r}")


# The range of every numeric setting: (least, most). A least of None means "positive" (0 is
# excluded). Upper bounds keep waits and timeouts within what the threads' waits and the
# database's integers take, and a typo such as 1e300 from passing for a setting.
_RANGES: dict[str, tuple[float | None, float]] = {
    "port": (1, 65535),
    "dedupe_window_minutes": (1, 1440),
    "reporter_rate_per_minute": (None, math.inf),
    "reporter_burst": (None, math.inf),
    "network_rate_per_minute": (None, math.inf),
    "network_burst": (None, math.inf),
    "max_body_bytes": (None, math.inf),
    "batch_max_body_bytes": (None, math.inf),
    "batch_max_reports": (1, 10_000),
    "commit_batch_max": (None, math.inf),
    "nats_stream_replicas": (1, 5),
    "nats_stream_max_bytes": (1_048_576, math.inf),
    "detect_interval_seconds": (None, 3600),
    "leader_retry_seconds": (None, 3600),
    "detect_warmup_days": (0, 366),
    "catalog_reload_seconds": (None, 86_400),
    "status_page_cache_seconds": (0, 300),
    "probe_concurrency": (None, math.inf),
    "probe_reload_seconds": (None, 86_400),
    "probe_results_keep_days": (None, 36_500),
    "probe_cert_warning_days": (None, 3650),
    "notify_max_failures": (None, math.inf),
    "notify_flap_minutes": (None, 10_080),
    "notify_interval_seconds": (None, 3600),
    "notify_timeout_seconds": (None, 600),
    "vendor_timeout_seconds": (None, 600),
    "vendor_max_backoff_seconds": (None, 604_800),
    "vendor_feed_open_hours": (None, 8760),
}


def numeric_settings() -> set[str]:
    """The names of the settings that are numbers (each must have a range in ``_RANGES``)."""
    hints = get_type_hints(Settings)
    return {f.name for f in fields(Settings) if hints[f.name] in (int, float)}


def _range_error(value: float, least: float | None, most: float) -> str | None:
    """Why ``value`` is out of its range, or None."""
    if not math.isfinite(value):
        return "must be a finite number"
    top = f"{most:g}"
    if least is None:
        if value <= 0 or value > most:
            return "must be positive" + ("" if math.isinf(most) else f" and at most {top}")
    elif not (least <= value <= most):
        return (
            f"must be at least {least:g}"
            if math.isinf(most)
            else (f"must be between {least:g} and {top}")
        )
    return None


# A host name as a resolver takes it: dot-separated labels of letters, digits and inner
# hyphens. The last label (a top-level domain) is never all digits, so 999.1.1.1 is an address
# that is wrong, not a name.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _is_host(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    labels = text.removesuffix(".").split(".")
    return (
        0 < len(text) <= 253
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


# The SQLAlchemy driver of each database panne runs on, the one it installs: Python's sqlite3
# and psycopg 3. A URL naming another driver (psycopg2, asyncpg, aiosqlite…) would pass for a
# database URL and fail at the first connection with an import error.
_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}


def _database_error(url: str) -> str | None:
    """Why ``url`` cannot be panne's database, or None."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "not a valid URL"
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        return "must be an sqlite:// or postgresql URL"
    # Without "+driver", the dialect's default: psycopg for postgresql:// on SQLAlchemy 2.1,
    # psycopg2 (not installed) on 2.0.
    driver = parsed.get_driver_name()
    if driver != _DRIVERS[backend]:
        return (
            f"the {driver} driver is not one panne installs: use sqlite:///FILE or "
            "postgresql+psycopg://USER@HOST/DB"
        )
    if backend == "postgresql" and not parsed.database and "dbname" not in parsed.query:
        # Without one, the driver connects to the user's default database, often the
        # `postgres` maintenance database, and panne's tables would land there.
        return "a PostgreSQL URL needs a database name, e.g. postgresql+psycopg://user@host/panne"
    return None


def _is_base_url(url: str) -> bool:
    """Whether ``url`` is an absolute http(s) URL that links can be made from by appending a
    path: no query or fragment for the path to land in, no user and password to give away in
    every link, no whitespace to end the link early. Its host is checked as ``host`` is."""
    if re.search(r"[\s?#]", url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is no number, or out of range, raises ValueError
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and "@" not in parts.netloc
        and _is_host(parts.hostname or "")
        and port != 0
    )


def _validate(s: Settings) -> None:
    def bad(name: str, why: str) -> ConfigError:
        return ConfigError(f"{name}: {why} (got {getattr(s, name)!r})")

    for name, choices in _CHOICES.items():
        if getattr(s, name) not in choices:
            raise bad(name, f"must be one of {', '.join(choices)}")
    for name, (least, most) in _RANGES.items():
        why = _range_error(getattr(s, name), least, most)
        if why is not None:
            raise bad(name, why)
    if not _is_host(s.host):
        raise bad("host", "must be an IP address or a host name")
    why_db = _database_error(s.database_url)
    if why_db is not None:
        raise bad("database_url", why_db)
    if s.base_url and not _is_base_url(s.base_url):
        raise bad(
            "base_url",
            "must be empty or an absolute http:// or https:// URL such as "
            "https://status.example.org/panne (a host, an optional port and path; no query, "
            "fragment, user or whitespace)",
        )
    if s.social_source:
        kind, _, where = s.social_source.partition(":")
        if kind not in ("jsonl", "mastodon") or not where:
            raise bad("social_source", "must be empty, jsonl:PATH or mastodon:URL")
        if kind == "mastodon" and not where.startswith(("https://", "http://")):
            raise bad("social_source", "a mastodon: source needs an http(s) URL")
    for server in s.nats_url:
        if not re.fullmatch(r"(nats|tls)://[^\s/]+", server):
            raise ConfigError(
                f"nats_url: {server!r} is not a NATS server URL such as nats://127.0.0.1:4222"
            )
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", s.nats_stream):
        raise bad("nats_stream", "must be 1 to 64 letters, digits, - or _")
    for net in s.trusted_proxies:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise ConfigError(f"trusted_proxies: {net!r} is not an IP network") from None
    for origin in s.embed_origins:
        if origin != "*" and not _is_origin(origin):
            raise ConfigError(
                f"embed_origins: {origin!r} is not * or an origin such as https://bank.example "
                "(http or https, a host, an optional port, no path)"
            )


def _read_file(path: Path) -> dict[str, Any]:
    """The settings of a TOML file: its top level, or its ``[panne]`` table, not both."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} "
            f"at offset {exc.start})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    if "panne" not in data:
        return data
    table = data["panne"]
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [panne] must be a table of settings, got {table!r}")
    outside = [key for key in data if key != "panne"]
    if outside:
        # One place or the other: a key beside [panne] would otherwise be silently ignored.
        raise ConfigError(
            f"config file {path}: {', '.join(outside)} is outside [panne]; put every setting "
            "under [panne], or none"
        )
    return table


def load(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from a TOML file (optional), then the environment, then explicit overrides.

    ``path`` defaults to ``$PANNE_CONFIG`` when set. Overrides with the value ``None`` are
    ignored, so CLI options that were not given leave the other sources alone.
    """
    env = os.environ if environ is None else environ
    hints = get_type_hints(Settings)
    names = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}

    if path is None and env.get(f"{ENV_PREFIX}CONFIG"):
        path = Path(env[f"{ENV_PREFIX}CONFIG"])
    if path is not None:
        for key, raw in _read_file(path).items():
            if key not in names:
                raise ConfigError(f"{key}: unknown setting in {path}")
            values[key] = _coerce(key, hints[key], raw, from_env=False)

    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key == f"{ENV_PREFIX}CONFIG":
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in names:
            raise ConfigError(f"{key}: unknown setting")
        values[name] = _coerce(name, hints[name], raw, from_env=True)

    for key, raw in overrides.items():
        if raw is None:
            continue
        if key not in names:
            raise ConfigError(f"{key}: unknown setting")
        values[key] = _coerce(key, hints[key], raw, from_env=False)

    settings = replace(Settings(), **values)
    _validate(settings)
    return settings
