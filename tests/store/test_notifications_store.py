"""The notification tables on an SQLite file and on the real PostgreSQL server: the two
compare-and-swap claims, what a subscriber was told, health counters, maintenance, ids that are
never handed out twice."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from panne.clock import EARLIEST_INPUT, LATEST_INPUT, iso_utc
from panne.store import incidents as incident_store
from panne.store import maintenance, migrate
from panne.store import notifications as store
from panne.store.engine import make_engine
from panne.store.incidents import IncidentRecord
from panne.store.notifications import Subscription
from panne.store.schema import maintenance_windows, metadata

T0 = 1_709_651_400


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


def test_a_new_subscription_never_inherits_a_deleted_ones_history(engine: Engine) -> None:
    # The newest subscription is told of an incident, then deleted; its log stays. The next
    # one must start with a clean history, or it would be sent "back to normal" for an
    # incident it never heard of.
    incident(engine, [("opened", T0)])
    [ev] = store.unclaimed_events(engine)
    gone = subscription(engine)
    with engine.begin() as conn:
        store.log(
            conn, sub_id=gone.id, ev=ev, kind="opened", attempt=1, at=T0, ok=True,
            outcome="delivered",
        )  # fmt: skip
    assert store.delete_subscription(engine, gone.id)
    new = subscription(engine)
    assert new.id > gone.id
    with engine.connect() as conn:
        assert store.told(conn, new.id, "facebook-1") == []
    assert store.deliveries_list(engine, new.id) == []
    assert [d.subscription_id for d in store.deliveries_list(engine)] == [gone.id]


def test_a_new_maintenance_window_never_takes_a_cancelled_ones_id(engine: Engine) -> None:
    first = maintenance.add(engine, "facebook", T0, T0 + 3600, "Upgrade", T0)
    assert maintenance.remove(engine, first.id)
    assert maintenance.add(engine, "facebook", T0, T0 + 3600, "Again", T0).id > first.id


@pytest.mark.parametrize("bad", [0, -1, 2**63, 99999999999999999999999])
def test_an_id_no_row_can_have_finds_nothing(engine: Engine, bad: int) -> None:
    subscription(engine)
    with engine.begin() as conn:
        assert store.get_subscription(conn, bad) is None
        assert store.enable(conn, bad) is False
    assert store.delete_subscription(engine, bad) is False
    assert store.deliveries_list(engine, bad) == []
    assert maintenance.remove(engine, bad) is False


def test_a_stored_time_beyond_the_sane_range_reads_clamped(engine: Engine) -> None:
    # A window stored before times were checked (year 1 at +14:00 is year 0 in UTC) must
    # still list, so it can be seen and cancelled, instead of breaking every reader.
    with engine.begin() as conn:
        conn.execute(
            maintenance_windows.insert().values(
                service="facebook", starts_at=-62_135_647_200, ends_at=10**15, title="Typo",
                created_at=T0,
            )
        )  # fmt: skip
    [w] = maintenance.windows(engine)
    assert (w.starts_at, w.ends_at) == (EARLIEST_INPUT, LATEST_INPUT)
    assert iso_utc(-62_135_647_200) == "0001-01-01T00:00:00Z"


def test_the_notification_tables_are_as_the_schema_declares(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    names = ("subscriptions", "notification_queue", "deliveries", "maintenance_windows")
    assert [d for d in diff if any(n in repr(d) for n in names)] == []


def test_the_migration_hands_out_no_id_a_deleted_subscription_had(db_url: str) -> None:
    """A database from before ids were kept unique: its newest subscription was deleted (its
    log and a queued message remain). After the upgrade the next id is a fresh one."""
    eng = make_engine(db_url)
    try:
        migrate.upgrade(eng, "0008")
        keep, gone = subscription(eng), subscription(eng)
        incident(eng, [("opened", T0)])
        [ev] = store.unclaimed_events(eng)
        with eng.begin() as conn:
            store.log(
                conn, sub_id=gone.id, ev=ev, kind="opened", attempt=1, at=T0, ok=True,
                outcome="delivered",
            )  # fmt: skip
            store.enqueue(conn, keep.id, ev, "opened", T0)
        store.delete_subscription(eng, gone.id)
        migrate.upgrade(eng)
        [job] = store.due_jobs(eng, T0)  # the outbox came through the rebuild
        assert job.subscription_id == keep.id
        new = subscription(eng)
        assert new.id > gone.id
        with eng.connect() as conn:
            assert store.told(conn, new.id, "facebook-1") == []
    finally:
        eng.dispose()
