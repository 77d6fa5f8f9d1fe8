"""The four kinds of probe, run by one :class:`Prober` that owns the shared HTTP client.

One run is one attempt (the scheduler retries): it never raises, it answers a
:class:`~panne.signals.probes.ProbeResult` whose ``error_class`` names what failed, found by
walking the exception's chain (httpx wraps httpcore, which wraps the socket's own error), so
that a refused connection reads ``connection_refused`` whichever layer saw it first.

The whole attempt, name resolution included, is bounded by the probe's ``timeout_ms``; httpx
gets the same figure per operation so that it gives up cleanly on its own first.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import ssl
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver
import httpx

from panne import __version__
from panne.clock import Clock, SystemClock
from panne.config import Settings
from panne.signals.probe_guard import (
    GuardedTransport,
    TargetRefused,
    exception_chain,
    resolve_checked,
)
from panne.signals.probes import ErrorClass, ProbeResult, ProbeSpec, split_host_port

MAX_BODY_BYTES = 1_048_576  # keyword and JSON checks read at most this much of a body
DEFAULT_CERT_WARN_DAYS = 14.0
USER_AGENT = f"panne-probe/{__version__}"
Outcome = tuple[bool, ErrorClass | None, str]  # ok, error class, detail
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}


class Prober:
    """Runs probes. Use as ``async with Prober(...) as prober`` so the client is closed.

    ``ssl_context`` verifies HTTPS and TLS peers (the system's trust store by default; tests
    pass one trusting their own CA). ``cert_warn_days``: a certificate with fewer days left
    fails with ``cert_expiring``. ``transport`` replaces the guarded one (the guard then applies
    only to tcp, tls and dns probes).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        allow_private: bool = False,
        cert_warn_days: float = DEFAULT_CERT_WARN_DAYS,
        ssl_context: ssl.SSLContext | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.allow_private = allow_private
        self.cert_warn_days = cert_warn_days
        self.ssl_context = ssl_context or ssl.create_default_context()
        # The scheduler's semaphore bounds connections; the pool keeps few idle ones, and not
        # for long, so most runs measure a fresh connection as a user's first visit would.
        limits = httpx.Limits(
            max_connections=None, max_keepalive_connections=100, keepalive_expiry=5.0
        )
        self.client = httpx.AsyncClient(
            transport=transport
            or GuardedTransport(self.ssl_context, limits, allow_private=allow_private),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,  # a redirect could lead anywhere; 3xx is an answer
            trust_env=False,  # a proxy from the environment would bypass the guard
        )
        self._system_resolver: dns.asyncresolver.Resolver | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> Prober:
        return cls(allow_private=settings.probe_allow_private, **kw)

    async def __aenter__(self) -> Prober:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def run(self, spec: ProbeSpec) -> ProbeResult:
        """One attempt of ``spec``; never raises (but lets cancellation through)."""
        at = self.clock.now()
        loop = asyncio.get_running_loop()
        started = loop.time()
        check = {"http": self._http, "tcp": self._tcp, "dns": self._dns, "tls": self._tls}
        try:
            async with asyncio.timeout(spec.timeout_seconds):
                ok, error_class, detail = await check[spec.kind](spec)
        except Exception as exc:
            ok = False
            error_class, detail = classify(exc)
            if error_class == "timeout" and not str(exc):
                detail = f"no answer within {spec.timeout_ms} ms"
        latency_ms = (loop.time() - started) * 1000
        return ProbeResult(spec.id, at, ok, round(latency_ms, 3), error_class, detail[:500])

    async def _http(self, spec: ProbeSpec) -> Outcome:
        timeout = httpx.Timeout(spec.timeout_seconds)
        async with self.client.stream("GET", spec.target, timeout=timeout) as response:
            status = response.status_code
            lo, hi = spec.expect_status
            if not lo <= status <= hi:
                word: ErrorClass = (
                    "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "other"
                )
                return False, word, f"status {status}, expected {lo}-{hi}"
            stream = response.extensions.get("network_stream")
            ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
            if spec.keyword is not None or spec.json_field is not None:
                body = await _read_at_most(response, MAX_BODY_BYTES)
                if spec.keyword is not None and spec.keyword.encode() not in body:
                    return False, "keyword_missing", f"{spec.keyword!r} not in the body"
                expectation = spec.json_expectation()
                if expectation is not None:
                    mismatch = json_mismatch(body, *expectation)
                    if mismatch:
                        return False, "json_mismatch", mismatch
        if ssl_object is not None:
            outcome = self._certificate(ssl_object.getpeercert())
            if not outcome[0]:
                return outcome
        return True, None, f"status {status}"

    async def _tcp(self, spec: ProbeSpec) -> Outcome:
        host, port = split_host_port(spec.target)
        writer = await self._connect(host, port, None)
        writer.transport.abort()
        return True, None, "connected"

    async def _tls(self, spec: ProbeSpec) -> Outcome:
        host, port = split_host_port(spec.target, 443)
        writer = await self._connect(host, port, self.ssl_context)
        try:
            ok, error_class, detail = self._certificate(writer.get_extra_info("peercert"))
            version = writer.get_extra_info("ssl_object").version()
        finally:
            writer.transport.abort()  # a probe has nothing to say: no TLS close handshake
        return ok, error_class, f"{detail}, {version}"

    async def _dns(self, spec: ProbeSpec) -> Outcome:
        if spec.resolver is None:
            if self._system_resolver is None:
                self._system_resolver = dns.asyncresolver.Resolver()
            resolver = self._system_resolver
        else:
            host, port = split_host_port(spec.resolver, 53)
            addresses = await resolve_checked(host, port, allow_private=self.allow_private)
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = addresses
            resolver.port = port
        answer = await resolver.resolve(
            spec.target, spec.record_type, lifetime=spec.timeout_seconds, search=False
        )
        return True, None, ", ".join(sorted(r.to_text() for r in answer))

    async def _connect(
        self, host: str, port: int, context: ssl.SSLContext | None
    ) -> asyncio.StreamWriter:
        """A connection to the first checked address of ``host`` that answers."""
        addresses = await resolve_checked(host, port, allow_private=self.allow_private)
        error: OSError | None = None
        for address in addresses:
            try:
                _, writer = await asyncio.open_connection(
                    address, port, ssl=context, server_hostname=host if context else None
                )
                return writer
            except ssl.SSLError:
                raise  # the peer answered: another address would not fix its certificate
            except OSError as exc:
                error = exc
        assert error is not None
        raise error

    def _certificate(self, cert: Any) -> Outcome:
        """``cert_expiring`` when the verified peer certificate ends within the warning."""
        if not cert or "notAfter" not in cert:
            return True, None, "certificate not inspected"
        ends = ssl.cert_time_to_seconds(cert["notAfter"])
        days = (ends - self.clock.now()) / 86_400
        if days < self.cert_warn_days:
            return False, "cert_expiring", f"certificate expires in {days:.1f} days"
        return True, None, f"certificate valid {days:.0f} more days"


def classify(exc: BaseException) -> tuple[ErrorClass, str]:
    """The error class of a failed attempt and a line for people, from the exception chain."""
    for e in exception_chain(exc):
        text = str(e) or type(e).__name__
        if isinstance(e, TargetRefused):
            return "other", text
        if isinstance(e, socket.gaierror):
            return "dns_failure", f"name not resolved: {e.strerror}"
        if isinstance(e, dns.resolver.NXDOMAIN):
            return "dns_failure", "NXDOMAIN: the name does not exist"
        if isinstance(e, dns.resolver.NoAnswer | dns.resolver.NoNameservers):
            return "dns_failure", text
        if isinstance(e, dns.exception.Timeout | TimeoutError | httpx.TimeoutException):
            return "timeout", str(e)
        if isinstance(e, ssl.SSLCertVerificationError):
            return "tls_error", f"certificate not valid: {e.verify_message}"
        if isinstance(e, ssl.SSLError):
            return "tls_error", text
        if isinstance(e, ConnectionRefusedError):
            return "connection_refused", "connection refused"
        if isinstance(e, OSError) and e.errno in _UNREACHABLE:
            return "unreachable", text
    return "other", f"{type(exc).__name__}: {exc}"


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def json_mismatch(body: bytes, path: list[str], expected: str) -> str | None:
    """Why the JSON ``body`` fails ``path=expected``, or None when it passes. Values compare as
    JSON text, strings unquoted: ``ok=true``, ``count=3``, ``status.indicator=none``."""
    try:
        node: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "the body is not JSON"
    for i, key in enumerate(path):
        where = ".".join(path[: i + 1])
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return f"{where} is missing"
    actual = node if isinstance(node, str) else json.dumps(node)
    if actual != expected:
        return f"{'.'.join(path)} is {actual!r}, expected {expected!r}"
    return None
