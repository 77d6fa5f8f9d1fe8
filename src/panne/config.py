"""Settings: one TOML file plus ``PANNE_*`` environment variables, parsed strictly.

Every setting is a field of :class:`Settings` with its documentation in the field's metadata, so
the reference in docs/configuration.md is checked against this one list (tests/test_config.py).
A bad value stops start-up with a one-line :class:`ConfigError` naming the setting; an unknown key
is an error too, because a misspelt setting that is silently ignored is worse than none.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

ENV_PREFIX = "PANNE_"


class ConfigError(ValueError):
    """A setting is missing, unknown or invalid; the message names it."""


def _doc(text: str, **kw: Any) -> Any:
    return field(metadata={"doc": text}, **kw)


@dataclass(frozen=True)
class Settings:
    database_url: str = _doc(
        "SQLAlchemy URL of the database: `sqlite:///panne.db` (the default, a file in the "
        "working directory) or `postgresql+psycopg://user@host/db`.",
        default="sqlite:///panne.db",
    )
    host: str = _doc("Address `panne serve` listens on.", default="127.0.0.1")
    port: int = _doc("Port `panne serve` listens on.", default=8080)
    base_url: str = _doc(
        "Public URL of this panne, used in links it sends out; empty means `http://HOST:PORT`.",
        default="",
    )
    trusted_proxies: tuple[str, ...] = _doc(
        "Networks (CIDR) whose `X-Forwarded-For` header is believed. Comma-separated in the "
        "environment. Empty: the client address is always the TCP peer.",
        default=(),
    )
    dedupe_window_minutes: int = _doc(
        "A reporter reporting the same service again within this many minutes is answered 202 "
        "but counted once.",
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
    sqlite_synchronous: str = _doc(
        "SQLite `synchronous` pragma: `full` (an accepted report survives power loss) or "
        "`normal` (survives a crash of panne, not of the machine).",
        default="full",
    )
    detect_interval_seconds: float = _doc(
        "How often the live detector evaluates every series.", default=10.0
    )
    detect_warmup_days: float = _doc(
        "On a first start, how many days of stored counts the detectors learn from.",
        default=7.0,
    )
    demo: bool = _doc(
        "Feed realistic synthetic traffic (with an outage every so often) into this server.",
        default=False,
    )
    log_level: str = _doc("Logging level: debug, info, warning or error.", default="info")

    def public_url(self) -> str:
        return self.base_url.rstrip("/") or f"http://{self.host}:{self.port}"


_CHOICES: dict[str, tuple[str, ...]] = {
    "sqlite_synchronous": ("full", "normal"),
    "log_level": ("debug", "info", "warning", "error"),
}


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


def _validate(s: Settings) -> None:
    def bad(name: str, why: str) -> ConfigError:
        return ConfigError(f"{name}: {why} (got {getattr(s, name)!r})")

    for name, choices in _CHOICES.items():
        if getattr(s, name) not in choices:
            raise bad(name, f"must be one of {', '.join(choices)}")
    if not (0 < s.port < 65536):
        raise bad("port", "must be between 1 and 65535")
    for name in (
        "dedupe_window_minutes",
        "reporter_burst",
        "network_burst",
        "max_body_bytes",
        "batch_max_body_bytes",
        "commit_batch_max",
    ):
        if getattr(s, name) <= 0:
            raise bad(name, "must be positive")
    for name in (
        "reporter_rate_per_minute",
        "network_rate_per_minute",
        "detect_interval_seconds",
    ):
        if getattr(s, name) <= 0:
            raise bad(name, "must be positive")
    if not (1 <= s.batch_max_reports <= 10_000):
        raise bad("batch_max_reports", "must be between 1 and 10000")
    if not s.database_url.startswith(("sqlite://", "postgresql")):
        raise bad("database_url", "must be an sqlite:// or postgresql URL")
    for net in s.trusted_proxies:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise ConfigError(f"trusted_proxies: {net!r} is not an IP network") from None


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
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        table = data.get("panne", data)
        for key, raw in table.items():
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
