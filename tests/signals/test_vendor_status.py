"""Vendors' official status: recorded real Statuspage payloads and feeds, served on loopback."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ParamSpec

import httpx
import pytest
from sqlalchemy import Engine
from tests.signals.vendor_servers import FIXTURES, SUMMARY, Answer, summary_with, vendor_server

from panne.signals import vendor_poll
from panne.signals.vendor_feeds import parse_feed
from panne.signals.vendor_poll import PollPolicy, backoff_seconds, make_client, poll_due
from panne.signals.vendor_status import (
    VendorParseError,
    VendorSource,
    VendorSourceError,
    parse_summary,
)
from panne.store import migrate
from panne.store import vendor_status as store
from panne.store.engine import make_engine

RSS = (FIXTURES / "vendor-history.rss").read_bytes()
ATOM = (FIXTURES / "vendor-history.atom").read_bytes()
NOW = 1_709_654_400.0  # 2024-03-05 16:00 UTC, twenty minutes after the RSS feed's open incident
P = ParamSpec("P")


def aio(fn: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'panne.db'}")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def client(timeout: float = 5.0) -> httpx.AsyncClient:
    return make_client(allow_private=True, timeout_seconds=timeout)


def register(engine: Engine, url: str, **kw: Any) -> VendorSource:
    source = VendorSource(kw.pop("service", "canvas"), kw.pop("kind", "statuspage"), url, **kw)
    store.upsert_source(engine, source, now=NOW)
    return source


# --- parsing, straight from the recorded payloads ---------------------------------------------


def test_overall_indicator_and_unresolved_incident_of_the_real_summary() -> None:
    reading = parse_summary(SUMMARY)
    assert (reading.state, reading.description) == ("warn", "Partially Degraded Service")
    [incident] = reading.incidents
    assert incident.name.startswith("Amazon Web Services (AWS) is currently experiencing")
    assert (incident.status, incident.impact) == ("identified", "minor")
    assert incident.url == "https://stspg.io/0vf16sb2j8xn"
    assert incident.body == "We are continuing to investigate this issue."  # the latest update
    assert incident.updated_at == pytest.approx(1_638_900_435.765)  # 2021-12-07 18:07:15.765 UTC


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("operational", "up"),
        ("degraded_performance", "warn"),
        ("partial_outage", "warn"),
        ("major_outage", "down"),
        ("under_maintenance", "maintenance"),
    ],
)
def test_a_chosen_component_maps_to_the_four_states(status: str, state: str) -> None:
    body = summary_with(components={"— Catalog": status})
    reading = parse_summary(body, ("— catalog",))  # names match without regard to case
    assert reading.state == state
    assert reading.incidents == ()  # the open incident concerns Canvas, not the catalog
    assert reading.warning is None


def test_components_take_the_worst_and_may_be_named_with_their_group() -> None:
    body = summary_with(components={"— Catalog": "major_outage"})
    reading = parse_summary(body, ("Website", "Canvas - — Catalog"))
    assert (reading.state, reading.description) == ("down", "Down: Canvas - — Catalog")
    reading = parse_summary(summary_with(components={"Website": "operational"}), ("Website",))
    assert (reading.state, reading.description, reading.incidents) == ("up", "Operational", ())


def test_a_component_the_page_lacks_is_a_warning_and_the_page_verdict_stands() -> None:
    reading = parse_summary(SUMMARY, ("Quizzes",))
    assert reading.state == "warn"  # the indicator, minor
    assert reading.warning == "components not on the page: Quizzes"


def test_a_maintenance_in_progress_makes_a_quiet_page_maintenance() -> None:
    incident = json.loads(SUMMARY)["incidents"][0]
    maintenance = {**incident, "status": "in_progress", "impact": "maintenance"}
    maintenance["name"] = "Database upgrade"
    body = summary_with(
        status={"indicator": "none", "description": "All Systems Operational"},
        components=dict.fromkeys(("Website", "Canvas", "Assessments"), "operational"),
        incidents=[],
        scheduled_maintenances=[maintenance],
    )
    reading = parse_summary(body)
    assert reading.state == "maintenance"
    assert [(i.name, i.status) for i in reading.incidents] == [("Database upgrade", "in_progress")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "summary.json is not JSON"),
        (b'{"page": {}}', "no 'status' object"),
        (b'{"status": {"indicator": "purple"}}', "unknown status indicator 'purple'"),
        (b'{"status": {"indicator": "none"}, "components": {}}', "'components' is not a list"),
    ],
)
def test_malformed_summaries_say_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(VendorParseError, match=message):
        parse_summary(body)


def test_rss_items_recent_and_not_resolved_are_open_incidents() -> None:
    reading = parse_feed(RSS, now=NOW, open_hours=6)
    assert reading.state == "warn"
    [incident] = reading.incidents  # the resolved, completed and week-old items are not
    assert incident.name == "Login failures on the mobile app"
    assert incident.url == "https://status.example.com/incidents/k3v9q2m1x8zd"
    assert incident.updated_at == NOW - 20 * 60
    assert incident.body.startswith("Mar 5, 15:40 UTC Identified - Sign-in fails")
    assert reading.description == "1 open incident: Login failures on the mobile app"
    assert parse_feed(RSS, now=NOW + 6 * 3600, open_hours=6).state == "up"
    assert parse_feed(RSS, ("webhook",), now=NOW, open_hours=6).state == "up"


def test_atom_maintenance_in_progress_and_older_open_entries() -> None:
    reading = parse_feed(ATOM, now=NOW, open_hours=6)
    assert reading.state == "maintenance"
    assert [i.name for i in reading.incidents] == ["Scheduled maintenance of the EU data centre"]
    assert reading.incidents[0].url == "https://status.example.com/incidents/m2q8r5t0y7ub"
    day = parse_feed(ATOM, now=NOW, open_hours=24)
    assert day.state == "warn"  # the payments page item is open too, and not maintenance
    assert len(day.incidents) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<rss><channel><item>", "not well-formed XML"),
        (b"<html><body>moved</body></html>", "neither RSS 2.0"),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel><item>'
            b"<title>&b;</title></item></channel></rss>",
            "EntitiesForbidden",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<rss><channel><item><title>&x;</title></item></channel></rss>",
            "unsafe XML",
        ),
    ],
)
def test_bad_or_hostile_feeds_are_errors_not_expansions(body: bytes, message: str) -> None:
    with pytest.raises(VendorParseError, match=message):
        parse_feed(body, now=NOW, open_hours=6)


def test_source_definitions_are_checked() -> None:
    with pytest.raises(VendorSourceError, match="'Bad Slug': service"):
        VendorSource("Bad Slug", "statuspage", "https://x.example")
    with pytest.raises(VendorSourceError, match="url: must be an http"):
        VendorSource("x", "feed", "ftp://x.example/feed")
    with pytest.raises(VendorSourceError, match="interval_seconds: must be between"):
        VendorSource("x", "feed", "https://x.example/feed", interval_seconds=5)
    page = VendorSource("x", "statuspage", "https://www.githubstatus.com/")
    assert page.fetch_url == "https://www.githubstatus.com/api/v2/summary.json"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com:99999/", "url: is not a valid URL"),  # .port raised ValueError
        ("http://example.com:https/", "url: is not a valid URL"),
        ("http://[::1/", "url: is not a valid URL"),  # urlsplit raised ValueError
        ("http://example.com:0/", "url: must have a port from 1 to 65535"),
        (f"https://{'a' * 64}.example/", "url: .* is not a valid host name"),
        (5, "url: must be an http or https URL"),
    ],
)
def test_a_url_the_poller_could_not_use_is_refused_naming_the_field(url: Any, message: str) -> None:
    with pytest.raises(VendorSourceError, match=message) as caught:
        VendorSource("x", "statuspage", url)
    assert caught.value.field == "url"


@aio
async def test_a_failure_inside_an_exception_group_is_described_by_its_cause() -> None:
    async with client(timeout=2.0) as http:
        # A port no socket takes: anyio's task group wraps the OverflowError.
        with pytest.raises(BaseExceptionGroup) as caught:
            await http.get("http://127.0.0.1:99999/")
    said = vendor_poll.describe(caught.value)
    assert said.startswith("cannot fetch: OverflowError: ") and "65535" in said
    assert "TaskGroup" not in said
    refused = ExceptionGroup("unhandled errors in a TaskGroup", [ConnectionRefusedError(111, "no")])
    assert vendor_poll.describe(refused) == "cannot fetch: ConnectionRefusedError: [Errno 111] no"
    timed_out = ExceptionGroup("x", [httpx.ConnectTimeout("slow")])
    assert vendor_poll.describe(timed_out, 3).startswith("timeout: no complete answer within 3 s")


def test_backoff_doubles_from_the_interval_up_to_the_cap() -> None:
    delays = [backoff_seconds(120, n, 3600) for n in range(7)]
    assert delays == [120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_seconds(7200, 3, 3600) == 7200  # never sooner than the interval


# --- the poller, against a real server on loopback --------------------------------------------


@aio
async def test_polls_record_the_normalised_state_and_an_event_only_on_change(
    engine: Engine,
) -> None:
    async with vendor_server() as srv, client() as http:
        srv.answers["/api/v2/summary.json"] = Answer(200, SUMMARY)
        register(engine, srv.url("/"), components=("Canvas",))
        [state] = await poll_due(engine, http, NOW)
        assert (state.state, state.description, state.stale) == ("warn", "Warn: Canvas", False)
        assert state.fetched_at == NOW and len(state.incidents) == 1
        assert store.load_state(engine, "canvas") == state
        assert await poll_due(engine, http, NOW + 60) == []  # not due before its interval
        [again] = await poll_due(engine, http, NOW + 120)
        assert again.state == "warn"
        srv.answers["/api/v2/summary.json"] = Answer(
            200, summary_with(components={"Canvas": "major_outage"})
        )
        [down] = await poll_due(engine, http, NOW + 240)
        assert down.state == "down"
    events = store.load_events(engine, service="canvas")
    assert [(e.from_state, e.to_state, e.at) for e in events] == [
        (None, "warn", NOW),
        ("warn", "down", NOW + 240),
    ]
    assert srv.requests[0][1]["user-agent"].startswith("panne-vendor-status/")


@aio
async def test_conditional_requests_and_a_304_keep_the_state_without_parsing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    modified = "Tue, 07 Dec 2021 18:07:15 GMT"
    parses: list[bytes] = []

    def counting(body: bytes, components: tuple[str, ...] = ()) -> Any:
        parses.append(body)
        return parse_summary(body, components)

    monkeypatch.setattr(vendor_poll, "parse_summary", counting)
    async with vendor_server() as srv, client() as http:
        srv.answers["/summary.json"] = Answer(
            200, SUMMARY, {"ETag": 'W/"abc123"', "Last-Modified": modified}
        )
        register(engine, srv.url("/summary.json"))
        [first] = await poll_due(engine, http, NOW)
        [second] = await poll_due(engine, http, NOW + 120)
    assert "if-none-match" not in srv.requests[0][1]  # nothing to confirm the first time
    sent = srv.requests[1][1]
    assert (sent["if-none-match"], sent["if-modified-since"]) == ('W/"abc123"', modified)
    assert len(parses) == 1
    assert second == replace(first, fetched_at=NOW + 120)
    assert len(store.load_events(engine)) == 1


@aio
async def test_errors_keep_the_last_state_stale_and_back_off(engine: Engine) -> None:
    async with vendor_server() as srv, client() as http:
        srv.answers["/api/v2/summary.json"] = Answer(200, SUMMARY)
        register(engine, srv.url(""))
        [good] = await poll_due(engine, http, NOW)
        srv.answers["/api/v2/summary.json"] = Answer(500, b"oops")
        now, delays = NOW + 120, []
        for _ in range(6):
            [state] = await poll_due(engine, http, now)
            assert (state.state, state.stale, state.error) == ("warn", True, "HTTP 500")
            assert (state.incidents, state.fetched_at) == (good.incidents, NOW)
            [row] = store.load_sources(engine)
            delays.append(row.next_poll_at - now)
            assert await poll_due(engine, http, row.next_poll_at - 1) == []
            now = row.next_poll_at
        assert delays == [240, 480, 960, 1920, 3600, 3600]
        assert row.failures == 6
        srv.answers["/api/v2/summary.json"] = Answer(200, SUMMARY)
        [back] = await poll_due(engine, http, now)
        assert (back.stale, back.error, back.fetched_at) == (False, None, now)
        [row] = store.load_sources(engine)
        assert (row.failures, row.next_poll_at) == (0, now + 120)
    events = [(e.to_state, e.stale) for e in store.load_events(engine)]
    assert events == [("warn", False), ("warn", True), ("warn", False)]


@aio
async def test_retry_after_is_honoured_up_to_the_cap(engine: Engine) -> None:
    async with vendor_server() as srv, client() as http:
        srv.answers["/api/v2/summary.json"] = Answer(503, b"busy", {"Retry-After": "1800"})
        register(engine, srv.url(""))
        [state] = await poll_due(engine, http, NOW, PollPolicy(max_backoff_seconds=900))
        assert (state.state, state.stale, state.error) == ("unknown", True, "HTTP 503")
        [row] = store.load_sources(engine)
        assert row.next_poll_at == NOW + 900


@aio
async def test_a_timeout_and_malformed_json_are_errors_kept_in_the_state(engine: Engine) -> None:
    async with vendor_server() as srv, client(timeout=0.3) as http:
        srv.answers["/slow.json"] = Answer(hang=True)
        srv.answers["/bad.json"] = Answer(200, b'{"status": {"indicator": "min', {"ETag": '"x"'})
        register(engine, srv.url("/slow.json"), service="slow")
        register(engine, srv.url("/bad.json"), service="bad")
        bad, slow = await poll_due(engine, http, NOW)
    assert slow.error is not None and slow.error.startswith("timeout: no complete answer")
    assert bad.error is not None and bad.error.startswith("summary.json is not JSON")
    assert {bad.state, slow.state} == {"unknown"} and bad.stale and slow.stale
    rows = {r.source.service: r for r in store.load_sources(engine)}
    assert rows["bad"].etag is None  # a document that could not be read is not confirmed


@aio
async def test_feeds_are_polled_and_a_304_lets_their_incidents_age_out(engine: Engine) -> None:
    async with vendor_server() as srv, client() as http:
        srv.answers["/history.rss"] = Answer(200, RSS, {"ETag": '"rss1"'})
        srv.answers["/history.atom"] = Answer(200, ATOM)
        register(engine, srv.url("/history.rss"), service="app", kind="feed")
        register(engine, srv.url("/history.atom"), service="eu", kind="feed")
        app, eu = await poll_due(engine, http, NOW)
        assert (app.state, eu.state) == ("warn", "maintenance")
        assert (len(app.incidents), len(eu.incidents)) == (1, 1)
        # Six hours on, the RSS document has not changed (304) but its incident is too old.
        app, eu = await poll_due(engine, http, NOW + 6 * 3600)
        assert (app.state, app.incidents, app.stale) == ("up", (), False)
        assert (eu.state, eu.description) == ("up", "No open incident in the feed")
    rss_requests = [h for path, h in srv.requests if path == "/history.rss"]
    assert rss_requests[-1]["if-none-match"] == '"rss1"'
    assert [e.to_state for e in store.load_events(engine, service="app")] == ["warn", "up"]


@aio
async def test_private_addresses_are_refused_unless_allowed(engine: Engine) -> None:
    async with vendor_server() as srv, make_client(timeout_seconds=2) as guarded:
        srv.answers["/api/v2/summary.json"] = Answer(200, SUMMARY)
        register(engine, srv.url(""))
        [state] = await poll_due(engine, guarded, NOW)
    assert (state.state, state.stale) == ("unknown", True)
    assert state.error is not None and "127.0.0.1 is a loopback address" in state.error
    assert "vendor_allow_private" in state.error
    assert srv.requests == []
