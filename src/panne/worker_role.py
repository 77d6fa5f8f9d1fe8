"""The worker role: the report stream into the store, counted.

Workers share one durable JetStream consumer, so each message goes to one of them and any
number can run; each fetches what is waiting, commits it in one transaction (reports and their
per-minute counts, as the one-node writer does) and only then acks. A worker that dies before
its ack leaves its messages to be delivered again after ``ACK_WAIT_SECONDS``; the next commit
skips the reports already stored, so nothing is lost or counted twice. A message that is not
panne's (:class:`~panne.bus.jetstream.BadMessage`) is logged and dropped, never retried for
ever; a database that fails leaves the messages in the stream, to be tried again. Which
reports count is settled once more as they are stored, against the reports every other ingest
process took (:mod:`panne.store.first_reports`), so a person whose reports reach two processes
still counts once per ``dedupe_window_minutes``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import Engine

from panne.bus.jetstream import BadMessage, Stream, decode, patiently
from panne.clock import SystemClock
from panne.config import Settings
from panne.metrics import Metrics
from panne.signals.reports import Report
from panne.store.writer import ReportWriter

log = logging.getLogger(__name__)
CONSUMER = "panne-workers"
ACK_WAIT_SECONDS = 30.0
FETCH_MESSAGES = 256  # at most this many messages per commit
RETRY_SECONDS = 2.0  # after a failed commit, before the messages come back
DEDUPE_WINDOW_SECONDS = Settings.dedupe_window_minutes * 60.0


@dataclass(frozen=True)
class Drained:
    """What one fetch did: messages taken, reports stored, reports already stored, messages
    dropped as not panne's, and reports stored as not counted after all (their reporter
    counted through another process)."""

    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    dropped: int = 0
    uncounted: int = 0


class Worker:
    def __init__(
        self,
        engine: Engine,
        stream: Stream,
        *,
        ack_wait: float = ACK_WAIT_SECONDS,
        dedupe_window_seconds: float = DEDUPE_WINDOW_SECONDS,
        metrics: Metrics | None = None,
    ) -> None:
        self.stream = stream
        self.metrics = metrics or Metrics(engine, SystemClock())
        self._ack_wait = ack_wait
        # commit_new only: one transaction per fetch
        self.writer = ReportWriter(engine, shared_dedupe_ms=int(dedupe_window_seconds * 1000))
        self._nc: NatsClient | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    async def connect(self) -> None:
        self._nc = await self.stream.connect("panne-worker")
        js = self._nc.jetstream()
        await self.stream.ensure(js)
        self._sub = await patiently(
            lambda: js.pull_subscribe(
                self.stream.subject,
                durable=CONSUMER,
                stream=self.stream.name,
                config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=self._ack_wait),
            )
        )

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()
            self._nc = self._sub = None

    async def drain_once(self, timeout: float = 1.0) -> Drained:
        """Fetch what is waiting (waiting up to ``timeout`` for the first message), store it."""
        assert self._sub is not None, "connect() first"
        try:
            msgs = await self._sub.fetch(FETCH_MESSAGES, timeout=timeout)
        except TimeoutError:  # nats's, or asyncio's when the client's own deadline passes first
            self.metrics.worker_pending.set(0)
            return Drained()
        # How far behind the workers are, for scaling them.
        self.metrics.worker_pending.set(msgs[-1].metadata.num_pending)
        good: list[Msg] = []
        rows: list[Report] = []
        dropped = 0
        for msg in msgs:
            try:
                rows.extend(decode(msg.data))
                good.append(msg)
            except BadMessage as exc:
                log.error("dropped a message on %s: %s", msg.subject, exc)
                await msg.term()
                dropped += 1
        try:
            done = await asyncio.to_thread(self.writer.commit_new, rows)
        except Exception:
            log.exception("storing %d reports failed; they stay in the stream", len(rows))
            self.metrics.worker_failures.inc()
            for msg in good:
                await msg.nak(delay=RETRY_SECONDS)
            raise
        for msg in good:
            await msg.ack()
        self.metrics.worker_reports.labels("stored").inc(done.stored)
        self.metrics.worker_reports.labels("duplicate").inc(len(rows) - done.stored)
        self.metrics.worker_uncounted.inc(done.uncounted)
        self.metrics.worker_dropped.inc(dropped)
        return Drained(len(msgs), done.stored, len(rows) - done.stored, dropped, done.uncounted)

    async def serve(self, stop: threading.Event, ready: Callable[[], None] | None = None) -> None:
        """Drain the stream until ``stop`` is set; a failed commit waits, then tries again.
        ``ready`` is called once connected."""
        await self.connect()
        if ready is not None:
            ready()
        try:
            while not stop.is_set():
                try:
                    await self.drain_once()
                except Exception:  # the database is down: keep the messages, wait, retry
                    await asyncio.sleep(RETRY_SECONDS)
        finally:
            await self.close()
