"""Polling vendors' status pages: politely, through the address guard, never raising.

Each due source is claimed in the store, fetched once with the validators of its last good
answer (``If-None-Match``, ``If-Modified-Since``: a ``304`` keeps the last state and costs no
parse), read by ``vendor_status.parse_summary`` or ``vendor_feeds.parse_feed``, and recorded.
Any failure (refused address, DNS, timeout, HTTP error, oversized or malformed document) keeps
the last known state, flagged ``stale`` with a one-line error, and pushes the next poll back
exponentially: interval × 2, × 4 … capped at ``vendor_max_backoff_seconds``, never sooner than a
``Retry-After`` the vendor sent. All requests share one :class:`httpx.AsyncClient` whose every
connection passes ``probe_guard.GuardedTransport`` (URLs come from people, see probe_guard.py).

A role calls :func:`poll_due` on a tick (the lead wires it like the probe role: a thread with
an asyncio loop); database calls run in worker threads so the loop keeps serving fetches.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, replace

import httpx
from sqlalchemy import Engine

from panne import __version__
from panne.config import Settings
from panne.signals.probe_guard import GuardedTransport, TargetRefused, exception_chain
from panne.signals.vendor_feeds import parse_feed
from panne.signals.vendor_status import Reading, VendorParseError, VendorState, parse_summary
from panne.store import vendor_status as store
from panne.store.vendor_status import SourceRow

USER_AGENT = f"panne-vendor-status/{__version__}"
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # the largest real summary.json pages are ~200 KB
LEASE_SECONDS = 300.0  # a claimed source is free again after this, should its poller die
_ACCEPT = {
    "statuspage": "application/json",
    "feed": "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5",
}


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """The knobs :func:`poll_due` needs from the settings."""

    max_backoff_seconds: float = 3600.0
    feed_open_hours: float = 6.0
    concurrency: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> PollPolicy:
        return cls(settings.vendor_max_backoff_seconds, settings.vendor_feed_open_hours)


VENDOR_LIMITS = httpx.Limits(
    max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0
)


def make_client(
    *,
    allow_private: bool = False,
    timeout_seconds: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The one client for vendor pages. Redirects are followed (status pages move to
    ``*.statuspage.io`` and back), each hop's connection checked by the guard again."""
    return httpx.AsyncClient(
        transport=transport
        or GuardedTransport(
            ssl.create_default_context(), VENDOR_LIMITS, allow_private=allow_private
        ),
        timeout=httpx.Timeout(timeout_seconds),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
        max_redirects=5,
        trust_env=False,  # a proxy from the environment would bypass the guard
    )


def client_from_settings(settings: Settings) -> httpx.AsyncClient:
    return make_client(
        allow_private=settings.vendor_allow_private,
        timeout_seconds=settings.vendor_timeout_seconds,
    )


class FetchError(Exception):
    """A fetch failed; ``retry_after`` is the vendor's ``Retry-After`` in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetch's answer: ``body`` None means 304 Not Modified."""

    body: bytes | None
    etag: str | None
    last_modified: str | None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def describe(exc: BaseException, timeout_seconds: float | None = None) -> str:
    """One line saying why a fetch failed. The cause may be wrapped (httpx over httpcore over
    the socket; anyio's task groups put it in an exception group), so the whole chain is read,
    as probes read it (``probe_guard.exception_chain``), and a wrapper is never what is said."""
    chain = list(exception_chain(exc))
    for e in chain:
        if isinstance(e, TargetRefused):  # the guard words it for probes; say it for vendors
            return (
                str(e)
                .replace("probes reach", "vendor pages are fetched from")
                .replace("probe_allow_private", "vendor_allow_private")
            )
        if isinstance(e, socket.gaierror):
            return f"name does not resolve ({e.strerror or e})"
        if isinstance(e, httpx.TimeoutException | TimeoutError):
            within = f" within {timeout_seconds:g} s" if timeout_seconds else ""
            return f"timeout: no complete answer{within} ({type(e).__name__})"
        if isinstance(e, httpx.TooManyRedirects):
            return "too many redirects"
    leaf = next((e for e in chain if not isinstance(e, BaseExceptionGroup)), exc)
    text = f"{type(leaf).__name__}: {leaf}"
    if any(isinstance(e, httpx.HTTPError | OSError | BaseExceptionGroup) for e in chain):
        text = f"cannot fetch: {text}"
    return text[:500]


async def fetch(client: httpx.AsyncClient, row: SourceRow, *, conditional: bool) -> Fetched:
    """GET the source's document, conditionally when asked; raises :class:`FetchError`."""
    headers = {"Accept": _ACCEPT[row.source.kind]}
    if conditional and row.etag:
        headers["If-None-Match"] = row.etag
    if conditional and row.last_modified:
        headers["If-Modified-Since"] = row.last_modified
    try:
        async with client.stream("GET", row.source.fetch_url, headers=headers) as response:
            if response.status_code == 304 and conditional:
                return Fetched(None, row.etag, row.last_modified)
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code}", _retry_after(response))
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:
                    raise FetchError(f"document larger than {MAX_DOCUMENT_BYTES} bytes")
                chunks.append(chunk)
            return Fetched(
                b"".join(chunks),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
            )
    except FetchError:
        raise
    except Exception as exc:  # anything the network or the guard raises is the vendor's state
        raise FetchError(describe(exc, client.timeout.read)) from exc


def backoff_seconds(interval: float, failures: int, cap: float) -> float:
    """Delay before the next poll after ``failures`` consecutive failures (0: the interval)."""
    return min(interval * float(1 << min(failures, 30)), max(cap, interval))


def _read(row: SourceRow, body: bytes, now: float, policy: PollPolicy) -> Reading:
    if row.source.kind == "statuspage":
        return parse_summary(body, row.source.components)
    return parse_feed(body, row.source.components, now=now, open_hours=policy.feed_open_hours)


def _aged(state: VendorState, now: float, open_hours: float) -> VendorState:
    """A feed's state on a 304: the document did not change but time did, so incidents that
    are now too old to be open are dropped without parsing anything."""
    horizon = now - open_hours * 3600
    kept = tuple(i for i in state.incidents if i.updated_at is not None and i.updated_at >= horizon)
    if kept == state.incidents:
        return state
    if not kept:
        return replace(state, state="up", description="No open incident in the feed", incidents=())
    return replace(state, incidents=kept)


async def poll_one(
    engine: Engine, client: httpx.AsyncClient, row: SourceRow, now: float, policy: PollPolicy
) -> VendorState:
    """Fetch, read and record one claimed source. Whatever the vendor side does ends in the
    state; only the database's own errors (and cancellation) come out."""
    source = row.source
    previous = await asyncio.to_thread(store.load_state, engine, source.service)
    etag, last_modified, failures = row.etag, row.last_modified, 0
    delay = float(source.interval_seconds)
    try:
        # Validators are worth sending only when there is a state that a 304 would confirm.
        conditional = previous is not None and bool(row.etag or row.last_modified)
        fetched = await fetch(client, row, conditional=conditional)
        etag, last_modified = fetched.etag, fetched.last_modified
        if fetched.body is None:
            assert previous is not None
            state = replace(previous, fetched_at=now, stale=False)
            if previous.stale:
                state = replace(state, error=None)
            if source.kind == "feed":
                state = _aged(state, now, policy.feed_open_hours)
        else:
            try:
                reading = _read(row, fetched.body, now, policy)
            except Exception as exc:  # VendorParseError, or a shape no parser foresaw
                etag = last_modified = None  # the validators name a document we could not use
                message = str(exc) if isinstance(exc, VendorParseError) else describe(exc)
                raise FetchError(message[:500]) from exc
            state = VendorState(
                source.service,
                reading.state,
                reading.description,
                reading.incidents,
                now,
                False,
                reading.warning,
            )
    except FetchError as exc:
        failures = row.failures + 1
        delay = backoff_seconds(source.interval_seconds, failures, policy.max_backoff_seconds)
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, policy.max_backoff_seconds))
        error = str(exc) or type(exc).__name__
        if previous is None:
            state = VendorState(
                source.service,
                "unknown",
                "The vendor's page has not been read yet",
                stale=True,
                error=error,
            )
        else:
            state = replace(previous, stale=True, error=error)
    await asyncio.to_thread(
        lambda: store.record(
            engine,
            state,
            now=now,
            etag=etag,
            last_modified=last_modified,
            failures=failures,
            next_poll_at=now + delay,
        )
    )
    return state


async def poll_due(
    engine: Engine,
    client: httpx.AsyncClient,
    now: float,
    policy: PollPolicy | None = None,
) -> list[VendorState]:
    """Poll every source due at ``now`` (at most ``policy.concurrency`` at once) and return
    the states recorded, in the order of the sources' services."""
    policy = policy or PollPolicy()
    rows = await asyncio.to_thread(
        lambda: store.claim_due(engine, now=now, lease_seconds=LEASE_SECONDS)
    )
    gate = asyncio.Semaphore(policy.concurrency)

    async def one(row: SourceRow) -> VendorState:
        async with gate:
            return await poll_one(engine, client, row, now, policy)

    states = await asyncio.gather(*(one(r) for r in rows))
    return sorted(states, key=lambda s: s.service)


__all__ = [
    "FetchError",
    "Fetched",
    "PollPolicy",
    "backoff_seconds",
    "client_from_settings",
    "fetch",
    "make_client",
    "poll_due",
    "poll_one",
]
