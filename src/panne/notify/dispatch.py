"""The notifier role: claim incident events, queue a message per interested subscriber, send.

Each run has two halves. :meth:`Dispatcher.plan` claims the events nobody has claimed (a
compare-and-swap on ``incident_events.notified_at``) and, in the claim's own transaction, queues
one message per matching subscription, or logs why none is sent (maintenance, flapping): an
event is planned exactly once, by one process, all or nothing. :meth:`Dispatcher.send_due` then
leases the queued messages that are due (another compare-and-swap), sends them concurrently and
writes one delivery-log row per attempt; a failure is retried with exponential back-off, the
attempt count living in the queue row so that a restart neither forgets nor repeats it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from panne import __version__
from panne.catalog import Catalog
from panne.clock import Clock
from panne.config import Settings
from panne.notify import rules
from panne.notify.channels import Channel, DeliveryError, channel_for
from panne.notify.messages import Message, compose
from panne.notify.redact import scrub
from panne.store import incidents as incident_store
from panne.store import maintenance as maintenance_store
from panne.store import notifications as store
from panne.store.incidents import IncidentEvent, IncidentRecord
from panne.store.notifications import Job, Subscription

log = logging.getLogger(__name__)

STALE_SECONDS = 3600  # older events (a first start on old data) are claimed, never sent
RETRY_BASE_SECONDS = 15  # the first retry waits this long, then twice as long each time ...
RETRY_CAP_SECONDS = 1800  # ... up to this
MAX_ATTEMPTS = 8  # about half an hour of trying, then the event is given up
CONCURRENCY = 16  # messages in flight at once

ChannelFactory = Callable[[Subscription, httpx.AsyncClient, float], Channel]


def backoff_seconds(attempts: int) -> int:
    """The wait after the ``attempts``-th failed attempt: 15 s, 30 s, 1 min, 2 min…"""
    return int(min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)))


@dataclass
class RunSummary:
    claimed: int = 0
    queued: int = 0
    suppressed: int = 0
    delivered: int = 0
    failed: int = 0


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clock: Clock,
        catalog: Callable[[], Catalog],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        channels: ChannelFactory | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.catalog = catalog
        self.transport = transport
        self.channels: ChannelFactory = channels or (
            lambda sub, client, now: channel_for(
                sub, client, allow_private=settings.notify_allow_private, now=now
            )
        )

    def client(self) -> httpx.AsyncClient:
        """The one outbound client of a run: explicit timeouts, no redirects (a webhook that
        moves must be edited, not followed somewhere unchecked), no proxies from the
        environment, an injectable transport for tests."""
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.settings.notify_timeout_seconds),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"panne/{__version__} (notifications)"},
            transport=self.transport,
        )

    # -- planning ----------------------------------------------------------------------------

    def plan(self, summary: RunSummary) -> None:
        now = int(self.clock.now())
        flap_seconds = self.settings.notify_flap_minutes * 60
        for ev in store.unclaimed_events(self.engine):
            rec = incident_store.get(self.engine, ev.incident_id)
            with self.engine.begin() as conn:
                if not store.claim_event(conn, ev.id, now):
                    continue  # another notifier has it
                summary.claimed += 1
                if rec is None or ev.at < now - STALE_SECONDS:
                    continue
                facts = _facts(ev, rec)
                maintenance = maintenance_store.active(conn, list(facts.services), ev.at)
                silenced = bool(facts.services) and all(s in maintenance for s in facts.services)
                for sub in store.subscriptions_list(conn, enabled_only=True):
                    if not rules.matches(sub, facts):
                        continue
                    kind, why = rules.decide(
                        facts, store.told(conn, sub.id, rec.id), ev.at, flap_seconds
                    )
                    if kind is not None and silenced:
                        why = "maintenance: " + "; ".join(sorted(set(maintenance.values())))
                    if kind is not None and not silenced:
                        store.enqueue(conn, sub.id, ev, kind, now)
                        summary.queued += 1
                    elif why:
                        store.log(
                            conn,
                            sub_id=sub.id,
                            ev=ev,
                            kind=kind or ev.kind,
                            attempt=0,
                            at=now,
                            ok=False,
                            outcome="suppressed",
                            detail=why,
                        )
                        summary.suppressed += 1
                        log.info("notification of event %d suppressed: %s", ev.id, why)

    # -- sending -----------------------------------------------------------------------------

    async def send_due(self, client: httpx.AsyncClient, summary: RunSummary) -> None:
        """Send in rounds: each round sends, concurrently, the oldest due message of every
        (subscriber, incident) chain; the next message of a chain becomes due once the one
        before it is delivered or given up, so messages about one incident arrive in order."""
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(job: Job) -> None:
            async with gate:
                await self._send(client, job, summary)

        seen: set[tuple[int, int]] = set()
        while jobs := [
            j
            for j in store.due_jobs(self.engine, int(self.clock.now()))
            if (j.id, j.attempts) not in seen
        ]:
            seen.update((j.id, j.attempts) for j in jobs)
            await asyncio.gather(*(one(job) for job in jobs))

    def _message(
        self, ev: IncidentEvent, kind: str, rec: IncidentRecord, sub: Subscription
    ) -> Message:
        added: list[str] = []
        if kind == "member_added":
            before = [e for e in incident_store.timeline(self.engine, rec.id) if e.id < ev.id]
            previous = set(before[-1].snapshot.get("members", [])) if before else set()
            added = [m for m in ev.snapshot.get("members", []) if m not in previous]
        return compose(
            ev,
            kind,
            rec,
            self.catalog(),
            language=sub.language,
            base_url=self.settings.public_url(),
            added=added,
        )

    async def _send(self, client: httpx.AsyncClient, job: Job, summary: RunSummary) -> None:
        now = self.clock.now()
        until = int(now + 3 * self.settings.notify_timeout_seconds + 60)
        if not store.lease(self.engine, job, int(now), until):
            return  # another notifier is sending it
        with self.engine.connect() as conn:
            sub = store.get_subscription(conn, job.subscription_id)
            ev = store.event(conn, job.event_id)
        rec = incident_store.get(self.engine, job.incident_id)
        if sub is None or sub.disabled_at is not None or ev is None or rec is None:
            with self.engine.begin() as conn:
                store.finish(conn, job.id)
            return
        attempt = job.attempts + 1
        started = time.perf_counter()  # a duration, not a time of day: not the clock's business
        error: DeliveryError | None = None
        whole = 2 * self.settings.notify_timeout_seconds  # well within the lease above
        try:
            # The client's timeout is per read: a receiver trickling a byte every few seconds
            # would hold this round, and every subscriber's next message, for ever.
            await asyncio.wait_for(
                self.channels(sub, client, now).send(self._message(ev, job.kind, rec, sub)),
                whole,
            )
        except DeliveryError as exc:
            error = exc
        except TimeoutError:
            error = DeliveryError(f"not done after {whole:g} s")
        except Exception as exc:  # a broken channel must not stop the others
            log.exception("channel %s failed unexpectedly", sub.channel)
            error = DeliveryError(f"{type(exc).__name__}: {exc}")
        ms = int((time.perf_counter() - started) * 1000)
        at = int(self.clock.now())

        def record(outcome: str, detail: str = "") -> None:
            store.log(
                conn,
                sub_id=sub.id,
                ev=job,
                kind=job.kind,
                attempt=attempt,
                at=at,
                ok=outcome == "delivered",
                outcome=outcome,
                detail=detail,
                duration_ms=ms,
            )

        with self.engine.begin() as conn:
            if error is None:
                record("delivered")
                store.finish(conn, job.id)
                store.succeeded(conn, sub.id)
                summary.delivered += 1
                return
            summary.failed += 1
            if error.permanent:
                record("refused", error.detail)
                store.disable(conn, sub.id, error.detail, at)
                why = scrub(error.detail, sub.url, webhook=sub.channel == "webhook")
                log.warning("subscription %d disabled: %s", sub.id, why)
            elif attempt >= MAX_ATTEMPTS:
                record("gave_up", error.detail)
                store.finish(conn, job.id)
                store.gave_up(conn, sub.id, self.settings.notify_max_failures)
            else:
                record("failed", error.detail)
                store.retry_at(conn, job.id, attempt, at + backoff_seconds(attempt))

    # -- running -----------------------------------------------------------------------------

    async def run_once(self, client: httpx.AsyncClient) -> RunSummary:
        summary = RunSummary()
        self.plan(summary)
        await self.send_due(client, summary)
        return summary

    def run_sync(self) -> RunSummary:
        """One run on a fresh event loop and client: what ``node.notify_once()`` and tests use."""

        async def once() -> RunSummary:
            async with self.client() as client:
                return await self.run_once(client)

        return asyncio.run(once())

    def serve(self, stop: threading.Event) -> None:
        """Run every ``notify_interval_seconds`` until ``stop`` is set (in a thread of its own)."""

        async def forever() -> None:
            async with self.client() as client:
                while not stop.is_set():
                    try:
                        await self.run_once(client)
                    except Exception:  # keep notifying: one bad run must not end the role
                        log.exception("notification run failed")
                    await asyncio.to_thread(stop.wait, self.settings.notify_interval_seconds)

        asyncio.run(forever())


def _facts(ev: IncidentEvent, rec: IncidentRecord) -> rules.EventFacts:
    snap = ev.snapshot
    members = snap.get("members") or rec.members
    services = (rec.service,) if rec.kind == "service" and rec.service else tuple(members)
    countries = snap.get("countries", [list(c) for c in rec.countries])
    return rules.EventFacts(
        kind=ev.kind,
        incident_kind=rec.kind,
        services=services,
        group=rec.group,
        countries=tuple(str(c[0]) for c in countries),
        severity=str(snap.get("severity", rec.severity)),
        has_parent=rec.parent_id is not None,
    )
