"""Vendor sources, states and events in the store, on an SQLite file and the real PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from panne.signals.vendor_status import StateName, VendorIncident, VendorSource, VendorState
from panne.store import vendor_status as store
from panne.store.schema import metadata

T0 = 1_709_650_800.0  # 2024-03-05 15:00 UTC
PAGE = VendorSource("github", "statuspage", "https://www.githubstatus.com", ("Actions",))
INCIDENT = VendorIncident(
    "Incident with Pages and Actions",
    "investigating",
    "major",
    "https://stspg.io/pvqtdcyl9jvg",
    T0 - 300,
    "We are investigating reports of degraded performance for Actions and Pages.",
)


def state(kind: StateName = "warn", *, stale: bool = False, at: float = T0) -> VendorState:
    error = "HTTP 500" if stale else None
    return VendorState("github", kind, "Warn: Actions", (INCIDENT,), at, stale, error)


def record(
    engine: Engine,
    s: VendorState,
    now: float,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    failures: int = 0,
) -> store.VendorEvent | None:
    return store.record(
        engine,
        s,
        now=now,
        etag=etag,
        last_modified=last_modified,
        failures=failures,
        next_poll_at=now + 120,
    )


def test_the_migration_creates_the_vendor_tables_as_the_schema_declares(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "vendor" in repr(d)] == []


def test_sources_are_added_replaced_and_removed(engine: Engine) -> None:
    assert store.upsert_source(engine, PAGE, now=T0) is True
    [row] = store.load_sources(engine)
    assert (row.source, row.next_poll_at, row.failures, row.etag) == (PAGE, T0, 0, None)
    record(engine, state(), T0, etag='"e1"', last_modified="Tue, 05 Mar 2024 15:00:00 GMT")
    # The same definition again (every start registers its sources): bookkeeping stays.
    slower = VendorSource(PAGE.service, PAGE.kind, PAGE.url, PAGE.components, 300)
    assert store.upsert_source(engine, slower, now=T0 + 10) is False
    [row] = store.load_sources(engine)
    assert (row.source.interval_seconds, row.etag, row.next_poll_at) == (300, '"e1"', T0 + 120)
    # Other components: another document, polled at once with no validators.
    other = VendorSource(PAGE.service, PAGE.kind, PAGE.url, ("Pages",))
    store.upsert_source(engine, other, now=T0 + 20)
    [row] = store.load_sources(engine)
    assert (row.source.components, row.etag, row.last_modified) == (("Pages",), None, None)
    assert row.next_poll_at == T0 + 20
    assert store.remove_source(engine, "github") is True
    assert store.remove_source(engine, "github") is False
    assert (store.load_sources(engine), store.load_state(engine, "github")) == ([], None)
    assert record(engine, state("down"), T0 + 30) is None  # a poll that outlived its source
    assert store.load_state(engine, "github") is None


def test_a_due_source_is_claimed_once(engine: Engine) -> None:
    store.upsert_source(engine, PAGE, now=T0)
    feed = VendorSource("slack", "feed", "https://slack-status.com/feed/rss")
    store.upsert_source(engine, feed, now=T0 + 60)
    assert [r.source.service for r in store.claim_due(engine, now=T0, lease_seconds=300)] == [
        "github"
    ]
    assert store.claim_due(engine, now=T0 + 60, lease_seconds=300)[0].source == feed
    assert store.claim_due(engine, now=T0 + 60, lease_seconds=300) == []
    [claimed] = store.claim_due(engine, now=T0 + 300, lease_seconds=300)  # github's lease ended
    assert claimed.source.service == "github"


def test_states_round_trip_and_events_mark_only_changes(engine: Engine) -> None:
    store.upsert_source(engine, PAGE, now=T0)
    first = record(engine, state(), T0)
    assert first is not None and (first.from_state, first.to_state, first.at) == (None, "warn", T0)
    assert store.load_state(engine, "github") == state()
    assert record(engine, state(at=T0 + 120), T0 + 120) is None  # the same state, refreshed
    stale = record(engine, state(stale=True, at=T0 + 120), T0 + 240, failures=1)
    assert stale is not None and (stale.to_state, stale.stale, stale.error) == (
        "warn",
        True,
        "HTTP 500",
    )
    assert record(engine, state(stale=True, at=T0 + 120), T0 + 480, failures=2) is None
    down = record(engine, state("down", at=T0 + 600), T0 + 600)
    assert down is not None and (down.from_state, down.to_state) == ("warn", "down")
    events = store.load_events(engine)
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert [(e.from_state, e.to_state, e.stale) for e in events] == [
        (None, "warn", False),
        ("warn", "warn", True),
        ("warn", "down", False),
    ]
    assert store.load_events(engine, after_id=events[1].id) == [events[2]]
    assert store.load_events(engine, service="slack") == []
    [row] = store.load_sources(engine)
    assert (row.failures, row.next_poll_at) == (0, T0 + 720)
    assert store.load_states(engine) == {"github": state("down", at=T0 + 600)}
