"""The notification tables on an SQLite file and on the real PostgreSQL server: the two
compare-and-swap claims, what a subscriber was told, health counters, maintenance."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from panne.store import incidents as incident_store
from panne.store import maintenance, migrate
from panne.store import notifications as store
from panne.store.engine import make_engine
from panne.store.incidents import IncidentRecord
from panne.store.notifications import Subscription

T0 = 1_709_651_400


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def incident(engine: Engine, events: list[tuple[str, int]]) -> None:
    rec = IncidentRecord(
        "facebook-1",
        "service",
        "facebook",
        "meta",
        None,
        "open",
        "major",
        "Facebook",
        T0,
        T0,
        None,
        10.0,
        5.0,
        [("US", 10)],
        {"login": 100.0},
        [],
    )
    with engine.begin() as conn:
        incident_store.save(conn, rec)
        for kind, at in events:
            incident_store.add_event(conn, rec.id, kind, at, {"severity": "major"})


def subscription(engine: Engine) -> Subscription:
    return store.create_subscription(
        engine,
        Subscription(
            0,
            "ops",
            ["facebook"],
            [],
            ["FR"],
            "major",
            "fr",
            "webhook",
            "https://hooks.example.org/x",
            "s" * 20,
            T0,
        ),
    )


def test_subscriptions_round_trip(engine: Engine) -> None:
    sub = subscription(engine)
    with engine.connect() as conn:
        [back] = store.subscriptions_list(conn)
    assert back == sub
    assert (back.countries, back.language, back.failing, back.disabled_at) == (
        ["FR"],
        "fr",
        False,
        None,
    )


def test_an_event_is_claimed_once(engine: Engine) -> None:
    incident(engine, [("opened", T0)])
    [ev] = store.unclaimed_events(engine)
    with engine.begin() as conn:
        assert store.claim_event(conn, ev.id, T0)
    with engine.begin() as conn:
        assert not store.claim_event(conn, ev.id, T0 + 1)
    assert store.unclaimed_events(engine) == []


def test_a_queued_message_is_leased_once_and_retried_on_schedule(engine: Engine) -> None:
    sub = subscription(engine)
    incident(engine, [("opened", T0)])
    [ev] = store.unclaimed_events(engine)
    with engine.begin() as conn:
        store.enqueue(conn, sub.id, ev, "opened", T0)
    [job] = store.due_jobs(engine, T0)
    assert store.lease(engine, job, T0, T0 + 60)
    assert not store.lease(engine, job, T0, T0 + 60)
    assert store.due_jobs(engine, T0 + 30) == []  # leased
    with engine.begin() as conn:
        store.retry_at(conn, job.id, 1, T0 + 15)
    assert store.due_jobs(engine, T0 + 10) == []
    [again] = store.due_jobs(engine, T0 + 15)
    assert again.attempts == 1
    assert not store.lease(engine, job, T0 + 15, T0 + 75)  # a stale read: attempts differ
    assert store.lease(engine, again, T0 + 15, T0 + 75)


def test_told_is_what_was_delivered_or_queued_in_event_order(engine: Engine) -> None:
    sub = subscription(engine)
    incident(engine, [("opened", T0), ("resolved", T0 + 900), ("reopened", T0 + 1000)])
    first, second, third = store.unclaimed_events(engine)
    with engine.begin() as conn:
        store.log(
            conn,
            sub_id=sub.id,
            ev=first,
            kind="opened",
            attempt=1,
            at=T0,
            ok=True,
            outcome="delivered",
        )
        store.log(
            conn,
            sub_id=sub.id,
            ev=second,
            kind="resolved",
            attempt=1,
            at=T0,
            ok=False,
            outcome="failed",
        )
        store.enqueue(conn, sub.id, second, "resolved", T0 + 900)
        store.enqueue(conn, sub.id, third, "reopened", T0 + 1000)
        told = store.told(conn, sub.id, "facebook-1")
    assert told == [("opened", T0), ("resolved", T0 + 900), ("reopened", T0 + 1000)]


def test_failures_mark_failing_and_a_success_clears_it(engine: Engine) -> None:
    sub = subscription(engine)
    with engine.begin() as conn:
        store.gave_up(conn, sub.id, max_failures=2)
        assert not store.get_subscription(conn, sub.id).failing  # type: ignore[union-attr]
        store.gave_up(conn, sub.id, max_failures=2)
        after = store.get_subscription(conn, sub.id)
        assert after is not None and after.failing and after.consecutive_failures == 2
        store.succeeded(conn, sub.id)
        cleared = store.get_subscription(conn, sub.id)
        assert cleared is not None and not cleared.failing and cleared.consecutive_failures == 0


def test_disabling_drops_queued_messages_and_deleting_keeps_the_log(engine: Engine) -> None:
    sub = subscription(engine)
    incident(engine, [("opened", T0)])
    [ev] = store.unclaimed_events(engine)
    with engine.begin() as conn:
        store.enqueue(conn, sub.id, ev, "opened", T0)
        store.log(
            conn,
            sub_id=sub.id,
            ev=ev,
            kind="opened",
            attempt=1,
            at=T0,
            ok=False,
            outcome="refused",
            detail="HTTP 410",
        )
        store.disable(conn, sub.id, "HTTP 410", T0)
    assert store.due_jobs(engine, T0) == []
    assert store.delete_subscription(engine, sub.id)
    assert not store.delete_subscription(engine, sub.id)
    [row] = store.deliveries_list(engine, sub.id)
    assert (row.outcome, row.detail) == ("refused", "HTTP 410")


def test_maintenance_windows_cover_their_span_only(engine: Engine) -> None:
    w = maintenance.add(engine, "facebook", T0, T0 + 3600, "Upgrade", T0)
    maintenance.add(engine, "instagram", T0 + 7200, T0 + 9000, "Later", T0)
    with engine.connect() as conn:
        assert maintenance.active(conn, ["facebook", "instagram"], T0) == {"facebook": "Upgrade"}
        assert maintenance.active(conn, ["facebook"], T0 + 3600) == {}
        assert maintenance.active(conn, [], T0) == {}
    assert [m.title for m in maintenance.windows(engine)] == ["Upgrade", "Later"]
    assert maintenance.remove(engine, w.id) and not maintenance.remove(engine, w.id)
