"""The report stream on the real NATS server: what is published is what a worker reads."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from tests.nats_servers import OwnNats

from panne.bus import LogUnavailable
from panne.bus.jetstream import BadMessage, Publisher, Stream, decode, encode
from panne.signals.reports import Report, new_report_id

pytestmark = pytest.mark.nats
T0_MS = 1_709_650_800_000


def reports(n: int, *, service_id: int = 3) -> list[Report]:
    """Reports as ingest makes them: random ids and reporter hashes, which do not compress."""
    return [
        Report(
            new_report_id(T0_MS + i),
            service_id,
            "login",
            "US",
            T0_MS + i,
            T0_MS + i,
            secrets.token_urlsafe(16) if i % 7 else None,
            i % 5 != 0,
            "api",
            2 if i % 3 else None,
        )
        for i in range(n)
    ]


async def read_all(url: str, stream: Stream) -> list[list[Report]]:
    """Every message in the stream, decoded, without acking (a test's own consumer)."""
    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().pull_subscribe(stream.subject, durable="t", stream=stream.name)
        out = []
        while True:
            try:
                msgs = await sub.fetch(100, timeout=0.5)
            except TimeoutError:  # nats's, or asyncio's
                return out
            out += [decode(m.data) for m in msgs]
    finally:
        await nc.close()


def test_reports_round_trip_and_a_full_batch_is_one_message() -> None:
    rows = reports(10_000)
    assert decode(encode(rows)) == rows
    assert len(encode(rows)) < 1_048_576  # NATS's default largest message


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"not compressed", "not a compressed JSON list"),
        (encode([]).replace(b"x", b"y") + b"!", "not a compressed JSON list"),
    ],
)
def test_anything_else_on_the_subject_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(BadMessage, match=why):
        decode(data)


def test_a_row_of_the_wrong_shape_refuses_the_whole_message() -> None:
    import zlib

    import orjson

    good = list(reports(1)[0])
    for bad in (good[:-1], [*good[:1], True, *good[2:]], [*good[:4], "1", *good[5:]]):
        with pytest.raises(BadMessage, match="report 1 is not a report row"):
            decode(zlib.compress(orjson.dumps([good, bad])))
    with pytest.raises(BadMessage, match="not a list of reports"):
        decode(zlib.compress(b'{"a": 1}'))


def test_published_reports_are_in_the_stream_once_acked(nats_url: str, nats_stream: str) -> None:
    stream = Stream((nats_url,), nats_stream)
    pub = Publisher(stream)
    pub.start()
    try:
        batch = reports(500)
        pub.write_sync(batch)
        singles = reports(40, service_id=4)

        async def many() -> None:  # concurrent requests, as the web server's loop makes them
            await asyncio.gather(*(pub.write([r]) for r in singles))

        asyncio.run(many())
    finally:
        pub.stop()
    messages = asyncio.run(read_all(nats_url, stream))
    assert messages[0] == batch
    assert sorted(r for m in messages[1:] for r in m) == sorted(singles)
    # Requests that queued while a publish waited for its ack shared the next message.
    assert len(messages) < 41


def test_a_batch_too_large_for_one_message_is_split_and_all_stored(
    nats_url: str, nats_stream: str
) -> None:
    stream = Stream((nats_url,), nats_stream)
    pub = Publisher(stream)
    pub.start()
    try:
        rows = reports(40_000)  # about 1.7 MB compressed
        pub.write_sync(rows)
    finally:
        pub.stop()
    messages = asyncio.run(read_all(nats_url, stream))
    assert len(messages) > 1
    assert [r for m in messages for r in m] == rows


def test_no_server_is_one_clear_error(nats_stream: str) -> None:
    from tests.conftest import free_port

    pub = Publisher(Stream((f"nats://127.0.0.1:{free_port()}",), nats_stream))
    with pytest.raises(LogUnavailable, match=r"cannot reach NATS at nats://127\.0\.0\.1:\d+"):
        pub.start()
    with pytest.raises(LogUnavailable, match="not running"):
        pub.write_sync(reports(1))


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[OwnNats]:
    server = OwnNats(tmp_path / "js")
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_a_server_that_goes_away_refuses_then_keeps_what_it_acked(own_nats: OwnNats) -> None:
    stream = Stream((own_nats.url,), "PANNE_REPORTS")
    pub = Publisher(stream)
    pub.start()
    try:
        before = reports(3)
        pub.write_sync(before)
        own_nats.stop()
        with pytest.raises(LogUnavailable):
            pub.write_sync(reports(1))
        own_nats.start()  # same storage: what was acked is still there
        deadline = time.monotonic() + 15
        after = reports(2, service_id=5)
        while True:  # the publisher reconnects by itself
            try:
                pub.write_sync(after)
                break
            except LogUnavailable:
                assert time.monotonic() < deadline, "the publisher did not reconnect"
    finally:
        pub.stop()
    messages = asyncio.run(read_all(own_nats.url, stream))
    assert messages[0] == before
    assert after in messages


@pytest.mark.slow
def test_a_report_is_refused_with_503_while_the_stream_is_away(
    own_nats: OwnNats, sqlite_url: str
) -> None:
    import httpx
    from tests.conftest import LiveServer, settings_for

    from panne.clock import SystemClock
    from panne.node import Node

    settings = settings_for(sqlite_url, nats_url=[own_nats.url], detect_warmup_days=0.0)
    with LiveServer(Node(settings, clock=SystemClock(), background=False)) as srv:
        report = {"service": "facebook", "problem": "login", "country": "FR"}
        assert httpx.post(f"{srv.url}/api/v1/reports", json=report).status_code == 202
        own_nats.stop()
        other = {**report, "service": "instagram"}
        r = httpx.post(f"{srv.url}/api/v1/reports", json=other, timeout=30)
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"] == "5"
        assert "try again" in r.json()["detail"]
        own_nats.start()
        deadline = time.monotonic() + 20
        while (
            r := httpx.post(f"{srv.url}/api/v1/reports", json=other, timeout=30)
        ).status_code != 202:
            assert r.status_code == 503 and time.monotonic() < deadline
        # The refused report was not remembered by the dedupe: the retry counts.
        assert r.json()["counted"] is True


def test_a_server_without_jetstream_is_one_clear_error(tmp_path: Path) -> None:
    server = OwnNats(tmp_path / "js", jetstream=False)
    server.start()
    try:
        pub = Publisher(Stream((server.url,), "PANNE_REPORTS"))
        with pytest.raises(LogUnavailable, match=r"has no JetStream .*start nats-server with -js"):
            pub.start()
    finally:
        server.stop()


def test_more_copies_than_servers_is_one_clear_error(nats_url: str, nats_stream: str) -> None:
    pub = Publisher(Stream((nats_url,), nats_stream, replicas=3))
    with pytest.raises(LogUnavailable, match=r"nats_stream_replicas=3.*replicas > 1 not supported"):
        pub.start()


async def take_all(url: str, stream: Stream) -> int:
    """Consume and ack every message, as workers do; how many there were."""
    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().pull_subscribe(stream.subject, durable="t", stream=stream.name)
        n = 0
        while True:
            try:
                msgs = await sub.fetch(100, timeout=0.5)
            except TimeoutError:  # nats's, or asyncio's
                return n
            for m in msgs:
                await m.ack()
            n += len(msgs)
    finally:
        await nc.close()


def test_a_full_stream_refuses_new_reports_and_keeps_the_ones_it_took(
    nats_url: str, nats_stream: str
) -> None:
    """Workers away: the stream fills to its max_bytes, then refuses (a 503 for the client)
    instead of dropping reports no worker stored; once they are taken, it takes again."""
    stream = Stream((nats_url,), nats_stream, max_bytes=1_048_576)
    pub = Publisher(stream)
    pub.start()
    try:
        acked = 0
        with pytest.raises(LogUnavailable, match=r"stream is full \(nats_stream_max_bytes\)"):
            for _ in range(20):  # about 240 KB each
                pub.write_sync(reports(5000))
                acked += 1
        assert 2 <= acked < 20
        assert asyncio.run(take_all(nats_url, stream)) == acked  # none dropped
        pub.write_sync(reports(5000))
    finally:
        pub.stop()


def test_an_existing_stream_takes_new_limits(nats_url: str, nats_stream: str) -> None:
    async def limits() -> int:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info(nats_stream)
            return int(info.config.max_bytes or 0)
        finally:
            await nc.close()

    for size in (2_000_000, 3_000_000):
        pub = Publisher(Stream((nats_url,), nats_stream, max_bytes=size))
        pub.start()
        pub.stop()
        assert asyncio.run(limits()) == size
