"""The report stream on NATS JetStream: what ingest processes publish and workers consume.

An ingest process answers 202 once JetStream has acked the message holding the report: the
server has stored it (on disk, and on a quorum of servers for a replicated stream), which is
what makes an accepted report durable without a database commit per request. The stream keeps
a message until a worker acks it (work-queue retention), and workers ack only after their
commit, so a worker that dies loses nothing: the message is delivered again, and the worker
that gets it skips the reports already stored (:meth:`ReportWriter.commit_new`).

A message is one request's reports, compressed: a batch of 10,000 is one message, so a batch
is stored whole or not at all. Only a batch that still exceeds the server's message size
compressed is split (``max_payload``, 1 MB by default, holds about 25,000 reports).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError

from panne.bus import LogUnavailable
from panne.config import Settings
from panne.signals.reports import Report
from panne.store.writer import Tally

log = logging.getLogger(__name__)
_T = TypeVar("_T")
DUPLICATE_WINDOW_SECONDS = 120.0  # a publish retried after a lost ack is stored once
PUBLISH_TIMEOUT_SECONDS = 5.0
# Requests queued meanwhile share a message up to this many reports (about 90 KB compressed);
# a larger request, a batch, is a message of its own.
GROUP_MAX_REPORTS = 2000
CONNECT_TIMEOUT_SECONDS = 3
# JetStream's error codes (nats-server's errors.json) that panne words itself.
_STREAM_EXISTS = 10058  # the stream exists with other settings
_STREAM_FULL = 10077  # its max_bytes reached, with discard new
# Worth asking again: the cluster is choosing a leader, or (just started) does not know all its
# servers yet to place the copies on.
_ELECTING = {10005, 10008, 10009}
ELECTION_WAIT_SECONDS = 30.0
_FIELDS = len(Report._fields)
_TYPES: tuple[type | tuple[type, ...], ...] = (
    str,
    int,
    str,
    str,
    int,
    int,
    (str, type(None)),
    bool,
    str,
    (int, type(None)),
)


class BadMessage(ValueError):
    """A message on the subject that is not a list of reports as panne publishes them."""


@dataclass(frozen=True)
class Stream:
    """Where reports go: the servers, the stream's name and its one subject, and how it keeps
    them: on ``replicas`` servers, up to ``max_bytes``, beyond which publishes are refused
    (discard new) rather than older, unstored reports dropped."""

    servers: tuple[str, ...]
    name: str
    replicas: int = Settings.nats_stream_replicas
    max_bytes: int = Settings.nats_stream_max_bytes

    @classmethod
    def of(cls, settings: Settings) -> Stream:
        return cls(
            settings.nats_url,
            settings.nats_stream,
            settings.nats_stream_replicas,
            settings.nats_stream_max_bytes,
        )

    @property
    def subject(self) -> str:
        return f"{self.name}.reports"

    async def connect(self, client_name: str) -> NatsClient:
        """A connection that reconnects by itself; one line of error if no server answers."""
        nc = NatsClient()

        # The client's own callbacks log a traceback per failed attempt; a line is enough.
        async def said(exc: Exception) -> None:
            log.warning("NATS: %s", exc or type(exc).__name__)

        async def gone() -> None:
            if not (nc.is_closed or nc.is_draining):  # not our own close
                log.warning("NATS: disconnected, reconnecting")

        async def back() -> None:
            log.warning("NATS: reconnected")

        connecting = nc.connect(
            servers=list(self.servers),
            name=client_name,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            max_reconnect_attempts=-1,  # once connected, for ever
            allow_reconnect=True,
            error_cb=said,
            disconnected_cb=gone,
            reconnected_cb=back,
        )
        try:  # the first time, a bounded wait: a server that is not there is a start-up error
            await asyncio.wait_for(connecting, 2 * CONNECT_TIMEOUT_SECONDS)
            return nc
        except (NatsError, OSError, TimeoutError) as exc:
            where = ", ".join(self.servers)
            why = str(exc) or "no answer"
            raise LogUnavailable(f"cannot reach NATS at {where} (nats_url): {why}") from None

    async def ensure(self, js: JetStreamContext) -> None:
        """Create the stream, or bring an existing one's settings to these (JetStream moves
        its copies when ``replicas`` changes)."""
        config = StreamConfig(
            name=self.name,
            subjects=[self.subject],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=self.replicas,
            max_bytes=self.max_bytes,
            discard=DiscardPolicy.NEW,
        )

        async def create() -> None:
            try:
                await js.add_stream(config)
            except APIError as exc:
                if exc.err_code != _STREAM_EXISTS:
                    raise
                await js.update_stream(config)

        try:
            await patiently(create)
        except APIError as exc:
            if exc.err_code is None:  # nobody answers on the JetStream API
                raise self._no_jetstream("no answer") from None
            raise LogUnavailable(  # e.g. more replicas than servers: the server's words
                f"NATS refused stream {self.name!r} with nats_stream_replicas="
                f"{self.replicas}, nats_stream_max_bytes={self.max_bytes}: {exc.description}"
            ) from None
        except NatsError as exc:
            raise self._no_jetstream(str(exc)) from None

    def _no_jetstream(self, why: str) -> LogUnavailable:
        return LogUnavailable(
            f"NATS at {', '.join(self.servers)} has no JetStream for stream {self.name!r} "
            f"(start nats-server with -js): {why}"
        )


async def patiently(call: Callable[[], Awaitable[_T]]) -> _T:
    """``call()``, asked again while a JetStream cluster elects a leader (a server of three
    just died): its API answers late or says so for a few seconds, which is no reason for a
    process starting then to fail."""
    deadline = asyncio.get_running_loop().time() + ELECTION_WAIT_SECONDS
    said = False
    while True:
        try:
            return await call()
        except (TimeoutError, APIError) as exc:  # nats's TimeoutError is one
            electing = not isinstance(exc, APIError) or exc.err_code in _ELECTING
            if not electing or asyncio.get_running_loop().time() > deadline:
                raise
            if not said:
                why = exc.description if isinstance(exc, APIError) else "no answer in time"
                log.warning("NATS: JetStream says %s; asking again for a while", why)
                said = True
            await asyncio.sleep(0.5)


def encode(reports: Sequence[Report]) -> bytes:
    return zlib.compress(orjson.dumps(list(reports), default=tuple), 1)


def decode(data: bytes) -> list[Report]:
    """The reports of a message, checked field by field: anything else on the subject is
    refused as a whole, never stored in part."""
    try:
        rows = orjson.loads(zlib.decompress(data))
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise BadMessage(f"not a compressed JSON list: {exc}") from None
    if not isinstance(rows, list):
        raise BadMessage("not a list of reports")
    out = []
    for i, row in enumerate(rows):
        if not (
            isinstance(row, list)
            and len(row) == _FIELDS
            and all(isinstance(v, t) for v, t in zip(row, _TYPES, strict=True))
            and not isinstance(row[1], bool)
        ):
            raise BadMessage(f"report {i} is not a report row: {str(row)[:200]}")
        out.append(Report(*row))
    return out


class Publisher:
    """The report log of an ingest process: publish, and return once JetStream has acked.

    Its own thread and event loop, like the database writer's thread: the web server's loop
    and the CLI's threads hand it reports the same way, and one connection carries every
    request's publishes at once.
    """

    def __init__(self, stream: Stream, *, client_name: str = "panne-ingest") -> None:
        self.stream = stream
        self._client_name = client_name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._waiting: deque[tuple[Sequence[Report], asyncio.Future[None]]] = deque()
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="panne-publisher", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._call(self._open())
        except BaseException:
            self.stop()
            raise

    async def _open(self) -> None:
        self._nc = await self.stream.connect(self._client_name)
        self._js = self._nc.jetstream()
        await self.stream.ensure(self._js)

    def stop(self) -> None:
        """Finish the publishes in flight, then close."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._nc is not None:
            try:
                self._call(self._nc.drain())
            except Exception:  # closing anyway: what was acked is stored
                log.exception("closing the NATS connection failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None
        self._nc = self._js = None

    async def write(self, reports: Sequence[Report], tally: Tally | None = None) -> None:
        """Return once ``reports`` are in the stream; ``tally`` is for the database writer
        (workers count what they store)."""
        await asyncio.wrap_future(self._submit(self._queue(reports)))

    def write_sync(self, reports: Sequence[Report]) -> None:
        self._submit(self._queue(reports)).result()

    async def _queue(self, reports: Sequence[Report]) -> None:
        """Wait for the message that carries ``reports``: the requests that queued while the
        last publish waited for its ack go in the next message together (group commit, as the
        database writer does), so under load a message and its ack serve many requests."""
        if not reports:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append((reports, waiter))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_waiting())
        await waiter

    async def _send_waiting(self) -> None:
        while self._waiting:
            group = [self._waiting.popleft()]
            size = len(group[0][0])
            while self._waiting and size + len(self._waiting[0][0]) <= GROUP_MAX_REPORTS:
                group.append(self._waiting.popleft())
                size += len(group[-1][0])
            rows = list(group[0][0]) if len(group) == 1 else [r for g, _ in group for r in g]
            try:
                await self._publish(rows)
            except Exception as exc:
                for _, waiter in group:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for _, waiter in group:
                if not waiter.done():
                    waiter.set_result(None)

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return self._submit(coro).result()

    def _submit(self, coro: Coroutine[Any, Any, _T]) -> Future[_T]:
        if self._loop is None:
            coro.close()
            raise LogUnavailable("the report stream publisher is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _publish(self, reports: Sequence[Report]) -> None:
        if not reports:
            return
        if self._nc is None or self._js is None:  # stopped meanwhile
            raise LogUnavailable("the report stream publisher is not running")
        payload = encode(reports)
        if len(payload) > self._nc.max_payload and len(reports) > 1:
            half = len(reports) // 2
            await asyncio.gather(self._publish(reports[:half]), self._publish(reports[half:]))
            return
        # Its id lets JetStream drop a second copy should this publish be retried.
        headers = {"Nats-Msg-Id": f"{reports[0].id}-{len(reports)}"}
        for attempt in range(2):
            try:
                await self._js.publish(
                    self.stream.subject,
                    payload,
                    timeout=PUBLISH_TIMEOUT_SECONDS,
                    stream=self.stream.name,
                    headers=headers,
                )
                break
            except TimeoutError:
                if attempt == 1:
                    raise LogUnavailable("the report stream did not ack in time") from None
            except NatsError as exc:
                if isinstance(exc, APIError) and exc.err_code == _STREAM_FULL:
                    raise LogUnavailable(
                        "the report stream is full (nats_stream_max_bytes): are the workers "
                        "running?"
                    ) from None
                raise LogUnavailable(f"the report stream refused the reports: {exc}") from None
