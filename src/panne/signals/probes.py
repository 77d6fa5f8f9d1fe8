"""Active probes: what a probe is and what one run of it says.

Crowd reports say people suffer; probes say why. A :class:`ProbeSpec` is one check of one
service (an HTTP request, a TCP connect, a DNS query or a TLS handshake) and a
:class:`ProbeResult` is what one run found, its failure named by a word of the fixed vocabulary
:data:`ERROR_CLASSES`, so that results from thousands of probes can be counted, charted and fused
into incidents without parsing messages.

Specs are validated when built: a bad definition stops with one message naming the probe and
the field (also carried as :attr:`ProbeSpecError.field`), the same way a bad setting does
(config.py); every field's type is checked before its value is read, so no definition, however
malformed, gets further than that message. What people may *define* through the admin API is
narrower still (:func:`check_definition`: a probe at most every :data:`MIN_INTERVAL_SECONDS`,
a timeout a real answer can meet), kept apart from the spec itself so that tests and stored
definitions from before keep loading. The runners live in ``probe_kinds.py``, the
outbound-address guard in ``probe_guard.py``, the up/down hysteresis in ``probe_state.py`` and
the scheduler in ``probe_scheduler.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from panne.signals.typed_text import address_text_problem

ProbeKind = Literal["http", "tcp", "dns", "tls"]
RecordType = Literal["A", "AAAA", "CNAME"]
ErrorClass = Literal[
    "dns_failure",
    "connection_refused",
    "timeout",
    "tls_error",
    "cert_expiring",
    "http_4xx",
    "http_5xx",
    "keyword_missing",
    "json_mismatch",
    "unreachable",
    "other",
]

PROBE_KINDS: tuple[ProbeKind, ...] = get_args(ProbeKind)
RECORD_TYPES: tuple[RecordType, ...] = get_args(RecordType)
ERROR_CLASSES: tuple[ErrorClass, ...] = get_args(ErrorClass)

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HOST = re.compile(r"^[A-Za-z0-9._-]{1,253}$")
MAX_TIMEOUT_MS = 120_000
MAX_RETRIES = 5
MAX_INTERVAL_SECONDS = 86_400.0
# What the admin API lets people define (check_definition): one run per 10 s at most is already
# six times the aggregators' usual minute, and a probe every few milliseconds would turn the node
# into a load generator against the target. Under 100 ms hardly any real answer arrives (a probe
# that can only fail), and a check waiting over a minute measures nothing users would wait for.
MIN_INTERVAL_SECONDS = 10.0
MIN_DEFINED_TIMEOUT_MS = 100
MAX_DEFINED_TIMEOUT_MS = 60_000
_SHOWN_CHARS = 100  # of a bad value quoted back in an error


class ProbeSpecError(ValueError):
    """A probe definition is invalid; the message names the probe and the field, and
    ``field`` names the field alone (None when the definition as a whole is wrong)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def split_host_port(text: str, default_port: int | None = None) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or (with a default port) a bare host or address."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not host:port")
        port_text = rest[1:] if rest else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:  # a bare name, or a bare IPv6 address
        host, port_text = text, ""
    if not port_text:
        if default_port is None:
            raise ValueError(f"{text!r} needs a port (host:port)")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r} has no valid port")
    if not host:
        raise ValueError(f"{text!r} has no host")
    return host, int(port_text)


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """One probe of one service. Options that do not apply to the kind must stay unset.

    - ``target``: a URL (http, including https), ``host:port`` (tcp), ``host[:port]`` (tls,
      443 by default) or a domain name (dns).
    - ``expect_status``: the inclusive range of HTTP statuses that count as up. Redirects are
      not followed (a redirect to another host would escape the address guard), so 3xx is up
      by default.
    - ``keyword``: text the HTTP body must contain; ``json_field``: ``path=value``, a dotted
      path into a JSON body (list indexes as numbers) and the value it must have, compared as
      JSON text (``status.indicator=none``, ``ok=true``).
    - ``resolver``: the DNS server to ask (``host[:port]``), subject to the address guard;
      unset, the system's resolvers (the operator's own choice, so not guarded).
    - ``fail_after`` consecutive failed runs turn a probe down, ``recover_after`` consecutive
      successes turn it up again (see probe_state.py).
    """

    id: str
    service: str
    kind: ProbeKind
    target: str
    interval_seconds: float = 60.0
    timeout_ms: int = 10_000
    retries: int = 0
    expect_status: tuple[int, int] = (200, 399)
    keyword: str | None = None
    json_field: str | None = None
    resolver: str | None = None
    record_type: RecordType = "A"
    fail_after: int = 2
    recover_after: int = 2

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def timeout_seconds(self) -> float:
        return self.timeout_ms / 1000

    def json_expectation(self) -> tuple[list[str], str] | None:
        """``json_field`` split into its path and the expected value's text."""
        if self.json_field is None:
            return None
        path, _, value = self.json_field.partition("=")
        return path.strip().split("."), value.strip()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["expect_status"] = list(self.expect_status)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeSpec:
        """A spec from JSON or TOML data; ``expect_status`` may be ``200``, ``"200-299"`` or
        ``[200, 299]``. Unknown keys are errors, as misspelt options silently ignored are
        worse than none."""
        names = {f.name for f in fields(cls)}
        ident = data.get("id", "?")
        ident = ident if isinstance(ident, str) else "?"
        unknown = sorted(str(k) for k in set(data) - names)
        if unknown:
            raise ProbeSpecError(f"probe {ident!r}: unknown field {unknown[0]!r}", unknown[0])
        values = dict(data)
        if "expect_status" in values:
            values["expect_status"] = _status_range(ident, values["expect_status"])
        for name in ("id", "service", "kind", "target"):
            if name not in values:
                raise ProbeSpecError(f"probe {ident!r}: {name} is required", name)
        return cls(**values)  # every key is a field: _validate checks each value's type


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One run of one probe. ``at`` is when it started (epoch seconds, from the clock);
    ``error_class`` is None exactly when ``ok``; ``detail`` is for people (a status, the
    answers, the error's text), never parsed."""

    probe_id: str
    at: float
    ok: bool
    latency_ms: float
    error_class: ErrorClass | None = None
    detail: str = ""


def shown_target(spec: ProbeSpec) -> str:
    """The target as the public may see it: an http URL loses any ``user:password@``. Every
    public view of a probe (its API, the service page, an incident's evidence) shows this."""
    return public_target(spec.kind, spec.target)


def public_target(kind: str, target: str) -> str:
    """:func:`shown_target` from a stored row's kind and target (other kinds never hold
    credentials: their targets are host names, checked when defined)."""
    return without_credentials(target) if kind == "http" else target


def without_credentials(url: str) -> str:
    """A URL without any ``user:password@`` (probe targets, vendor pages)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL anything accepted: show nothing of it rather than a secret
        return ""
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def check_definition(spec: ProbeSpec) -> None:
    """What people may define through the admin API, over what a spec is: a run at most every
    :data:`MIN_INTERVAL_SECONDS`, a timeout from :data:`MIN_DEFINED_TIMEOUT_MS` to
    :data:`MAX_DEFINED_TIMEOUT_MS`, addresses without spaces or control characters (checked
    here, not in the spec, so that a probe stored by an earlier version still loads). Raises
    :class:`ProbeSpecError` naming the field."""
    for name in ("target", "resolver"):
        text = getattr(spec, name)
        if text is not None and (why := address_text_problem(text)) is not None:
            raise ProbeSpecError(f"probe {spec.id!r}: {name}: {why} (got {text!r})", name)
    if spec.interval_seconds < MIN_INTERVAL_SECONDS:
        raise ProbeSpecError(
            f"probe {spec.id!r}: interval_seconds: must be at least {MIN_INTERVAL_SECONDS:g}"
            f" (got {spec.interval_seconds!r})",
            "interval_seconds",
        )
    if not MIN_DEFINED_TIMEOUT_MS <= spec.timeout_ms <= MAX_DEFINED_TIMEOUT_MS:
        raise ProbeSpecError(
            f"probe {spec.id!r}: timeout_ms: must be from {MIN_DEFINED_TIMEOUT_MS} to"
            f" {MAX_DEFINED_TIMEOUT_MS} (got {spec.timeout_ms!r})",
            "timeout_ms",
        )


def _status_range(ident: object, raw: Any) -> tuple[int, int]:
    if isinstance(raw, bool):
        raise ProbeSpecError(
            f"probe {ident!r}: expect_status must be a status or a range", "expect_status"
        )
    if isinstance(raw, int):
        return (raw, raw)
    if isinstance(raw, str):
        lo, _, hi = raw.partition("-")
        if lo.strip().isdigit() and (not hi or hi.strip().isdigit()):
            return (int(lo), int(hi or lo))
    if isinstance(raw, list | tuple) and len(raw) == 2 and all(type(x) is int for x in raw):
        return (raw[0], raw[1])
    raise ProbeSpecError(
        f"probe {ident!r}: expect_status must be like 200, '200-399' or [200, 399]"
        f" (got {_shown(raw)})",
        "expect_status",
    )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _validate(s: ProbeSpec) -> None:
    def bad(name: str, why: str) -> ProbeSpecError:
        shown = _shown(getattr(s, name))
        return ProbeSpecError(f"probe {_shown(s.id)}: {name}: {why} (got {shown})", name)

    # Types first: everything below may call string and number methods on what it checks.
    if not isinstance(s.id, str) or not _ID.match(s.id):
        raise bad("id", "must be 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
    if not isinstance(s.service, str) or not _ID.match(s.service):
        raise bad("service", "must be a service slug")
    if not isinstance(s.kind, str) or s.kind not in PROBE_KINDS:
        raise bad("kind", f"must be one of {', '.join(PROBE_KINDS)}")
    if not isinstance(s.target, str):
        raise bad("target", "must be a string")
    for name in ("keyword", "json_field", "resolver"):
        if getattr(s, name) is not None and not isinstance(getattr(s, name), str):
            raise bad(name, "must be a string")
    if not isinstance(s.record_type, str) or s.record_type not in RECORD_TYPES:
        raise bad("record_type", f"must be one of {', '.join(RECORD_TYPES)}")
    status = s.expect_status
    if not (isinstance(status, tuple) and len(status) == 2 and all(type(x) is int for x in status)):
        raise bad("expect_status", "must be a pair of HTTP statuses")
    if isinstance(s.interval_seconds, bool) or not isinstance(s.interval_seconds, int | float):
        raise bad("interval_seconds", "must be a number")

    if not 0 < s.interval_seconds <= MAX_INTERVAL_SECONDS:
        raise bad("interval_seconds", f"must be positive and at most {MAX_INTERVAL_SECONDS:g}")
    for name, lo, hi in (
        ("timeout_ms", 1, MAX_TIMEOUT_MS),
        ("retries", 0, MAX_RETRIES),
        ("fail_after", 1, 100),
        ("recover_after", 1, 100),
    ):
        value = getattr(s, name)
        if type(value) is not int or not lo <= value <= hi:
            raise bad(name, f"must be an integer from {lo} to {hi}")
    if s.timeout_ms > s.interval_seconds * 1000:
        raise bad(
            "timeout_ms",
            f"must not exceed the interval ({s.timeout_ms} ms is over {s.interval_seconds:g} s)",
        )
    lo, hi = status
    if not 100 <= lo <= hi <= 599:
        raise bad("expect_status", "must be a range of HTTP statuses, low to high, 100-599")

    only = {"keyword": "http", "json_field": "http", "resolver": "dns"}
    for name, kind in only.items():
        if getattr(s, name) is not None and s.kind != kind:
            raise bad(name, f"applies only to {kind} probes")
    if s.kind != "http" and s.expect_status != (200, 399):
        raise bad("expect_status", "applies only to http probes")
    if s.kind != "dns" and s.record_type != "A":
        raise bad("record_type", "applies only to dns probes")
    if s.keyword is not None and not s.keyword:
        raise bad("keyword", "must not be empty")
    if s.json_field is not None:
        path, sep, _ = s.json_field.partition("=")
        if not sep or not path.strip() or "" in path.strip().split("."):
            raise bad("json_field", "must be path=value, the path dotted (status.indicator=none)")

    try:
        _check_target(s.kind, s.target)
    except ValueError as exc:
        raise bad("target", str(exc)) from None
    if s.resolver is not None:
        try:
            _host(split_host_port(s.resolver, 53)[0])
        except ValueError as exc:
            raise bad("resolver", str(exc)) from None


def _check_target(kind: ProbeKind, target: str) -> None:
    """Raises ValueError (UnicodeError included) saying what is wrong with the target."""
    if kind == "http":
        try:
            url = urlsplit(target)
        except ValueError as exc:  # a bad IPv6 literal: "http://[::1/"
            raise ValueError(f"is not a valid URL ({exc})") from None
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        try:
            port = url.port
        except ValueError:  # out of range, or not a number
            port = 0
        if port == 0:
            raise ValueError("has no valid port (1-65535)")
        _host(url.hostname, international=True)
    elif kind == "tcp":
        _host(split_host_port(target)[0])
    elif kind == "tls":
        _host(split_host_port(target, 443)[0])
    else:
        _host(target.rstrip("."))


def _host(host: str, *, international: bool = False) -> None:
    """A host name whose labels DNS can carry (1-63 characters each, 253 in all), or an IP
    address. ``international``: a URL's host may be an international name, which resolution
    encodes to IDNA, so it must encode."""
    if ":" in host:  # an IPv6 literal: the address guard and the connection parse it
        return
    if not international and not _HOST.match(host):
        raise ValueError(f"{host!r} is not a host name or address")
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        raise ValueError(f"{host!r} is not a valid host name (labels of 1-63 characters)") from None
    if not encoded or len(encoded) > 253:
        raise ValueError(f"{host!r} is not a valid host name")
