"""The dispatcher: what is worth a message, to whom, and never twice."""

from __future__ import annotations

import threading
from dataclasses import replace

from sqlalchemy import func, select
from tests.conftest import settings_for
from tests.notify.conftest import Receiver, add_event, subscribe
from tests.web.incident_rows import T0, store

from panne.clock import ManualClock
from panne.node import Node
from panne.notify.dispatch import STALE_SECONDS, backoff_seconds
from panne.store import incidents as incident_store
from panne.store import maintenance
from panne.store import notifications as notify_store
from panne.store.schema import incident_events


def kinds(receiver: Receiver) -> list[str]:
    return [r.json()["kind"] for r in receiver.received]


def test_one_message_on_open_one_on_resolve_and_none_without_news(
    notify_node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    subscribe(notify_node, receiver.url)
    store(notify_node, "facebook-1")
    notify_node.notify_once()
    # The detector saves the incident every tick but adds an event only on news.
    clock.advance(60)
    with notify_node.engine.begin() as conn:
        rec = incident_store.get(notify_node.engine, "facebook-1")
        assert rec is not None
        incident_store.save(conn, rec)
    notify_node.notify_once()
    assert kinds(receiver) == ["opened"]

    add_event(notify_node, "facebook-1", "updated", T0 + 600, peak_per_minute=400.0)
    clock.advance(600)
    notify_node.notify_once()
    add_event(notify_node, "facebook-1", "resolved", T0 + 2400)
    clock.set(T0 + 2400)
    notify_node.notify_once()
    notify_node.notify_once()

    assert kinds(receiver) == ["opened", "updated", "resolved"]
    resolved = receiver.received[-1].json()
    assert resolved["ended_at"] == "2024-03-05T15:35:00Z"
    assert "back to the usual level" in resolved["text"] and "after 25 min" in resolved["text"]


def test_a_resolve_waits_for_the_open_it_follows_when_the_open_must_be_retried(
    notify_node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    subscribe(notify_node, receiver.url)
    receiver.statuses = [503]
    store(notify_node, "facebook-1")
    add_event(notify_node, "facebook-1", "resolved", T0 + 240)
    clock.set(T0 + 300)
    summary = notify_node.notify_once()

    assert (summary.failed, summary.delivered, receiver.received) == (1, 0, [])
    clock.advance(backoff_seconds(1))
    assert notify_node.notify_once().delivered == 2
    assert kinds(receiver) == ["opened", "resolved"]


def test_a_maintenance_window_silences_the_service_and_logs_why(
    notify_node: Node, receiver: Receiver
) -> None:
    sub = subscribe(notify_node, receiver.url)
    maintenance.add(notify_node.engine, "facebook", T0, T0 + 3600, "Database upgrade", T0)
    store(notify_node, "facebook-1")
    summary = notify_node.notify_once()

    assert receiver.received == []
    assert (summary.claimed, summary.suppressed, summary.queued) == (1, 1, 0)
    [row] = notify_store.deliveries_list(notify_node.engine, sub.id)
    assert (row.outcome, row.ok, row.detail) == (
        "suppressed",
        False,
        "maintenance: Database upgrade",
    )
    with notify_node.engine.connect() as conn:
        assert conn.execute(select(incident_events.c.notified_at)).scalar_one() is not None


def test_flapping_sends_back_again_once_per_flap_window(
    notify_node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    sub = subscribe(notify_node, receiver.url)
    store(notify_node, "facebook-1")
    notify_node.notify_once()
    t = T0 + 1200
    for kind in ["resolved", "reopened", "resolved", "reopened", "resolved"]:
        t += 300
        add_event(notify_node, "facebook-1", kind, t)
        clock.set(t)
        notify_node.notify_once()
    assert kinds(receiver) == ["opened", "resolved", "reopened", "resolved"]
    suppressed = [
        d.detail
        for d in notify_store.deliveries_list(notify_node.engine, sub.id)
        if d.outcome == "suppressed"
    ]
    assert len(suppressed) == 2 and all(s.startswith("flapping") for s in suppressed)

    t += 31 * 60  # past notify_flap_minutes: a reopening is news again
    add_event(notify_node, "facebook-1", "reopened", t)
    clock.set(t)
    notify_node.notify_once()
    assert kinds(receiver)[-1] == "reopened"
    assert receiver.received[-1].json()["subject"] == "[panne] Facebook: problems are back"


def test_subscriptions_filter_by_severity_country_and_company(
    notify_node: Node, receiver: Receiver
) -> None:
    subscribe(notify_node, receiver.url + "/critical", min_severity="critical")
    subscribe(notify_node, receiver.url + "/fr", services=[], countries=["FR"])
    subscribe(notify_node, receiver.url + "/gb", services=[], countries=["GB"])
    subscribe(notify_node, receiver.url + "/meta", services=[], groups=["meta"])
    subscribe(notify_node, receiver.url + "/google", services=[], groups=["google"])
    subscribe(notify_node, receiver.url + "/all", services=[])
    store(notify_node, "facebook-1", severity="major")
    notify_node.notify_once()
    assert sorted(r.path for r in receiver.received) == ["/hook/all", "/hook/gb", "/hook/meta"]


def test_a_country_subscriber_told_of_an_incident_is_told_it_ended(
    notify_node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    """Even once its country has left the incident's top five: "a resolution goes to those who
    were told"."""
    subscribe(notify_node, receiver.url + "/tn", services=[], countries=["TN"])
    store(notify_node, "facebook-1")  # TN third
    notify_node.notify_once()
    later = [("US", 9000), ("GB", 4000), ("BR", 3000), ("DE", 2000), ("IN", 1000), ("TN", 150)]
    add_event(notify_node, "facebook-1", "resolved", T0 + 2400, countries=later)
    clock.set(T0 + 2400)
    notify_node.notify_once()
    assert kinds(receiver) == ["opened", "resolved"]


def test_a_company_incident_growing_critical_reaches_a_critical_only_subscriber(
    notify_node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    subscribe(notify_node, receiver.url, services=[], groups=["meta"], min_severity="critical")
    members = ["facebook", "instagram"]
    store(notify_node, "meta-1", kind="group", service=None, members=members)  # major
    notify_node.notify_once()
    assert kinds(receiver) == []
    add_event(notify_node, "meta-1", "updated", T0 + 600, severity="critical")
    clock.set(T0 + 600)
    notify_node.notify_once()
    assert kinds(receiver) == ["updated"]
    assert receiver.received[0].json()["severity"] == "critical"


def test_events_older_than_an_hour_are_claimed_but_never_sent(
    notify_node: Node, receiver: Receiver, clock: ManualClock
) -> None:
    subscribe(notify_node, receiver.url)
    store(notify_node, "facebook-1")
    clock.advance(STALE_SECONDS + 60)
    assert notify_node.notify_once().claimed == 1
    assert receiver.received == []


def test_two_notifiers_on_one_database_never_send_an_event_twice(
    sqlite_url: str, receiver: Receiver, clock: ManualClock
) -> None:
    clock.set(T0 + 200)
    settings = settings_for(sqlite_url, notify_allow_private=True)
    nodes = [Node(settings, clock=clock, background=False) for _ in range(2)]
    for n in nodes:
        n.start()
    try:
        subscribe(nodes[0], receiver.url)
        for i in range(20):
            store(nodes[0], f"facebook-{i}", started_at=T0 + i)
        go = threading.Barrier(2)

        def run(n: Node) -> None:
            go.wait()
            for _ in range(3):
                n.notify_once()

        threads = [threading.Thread(target=run, args=(n,)) for n in nodes]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        ids = sorted(r.json()["incident_id"] for r in receiver.received)
        assert ids == sorted(f"facebook-{i}" for i in range(20))
        with nodes[0].engine.connect() as conn:
            unclaimed = conn.execute(
                select(func.count()).where(incident_events.c.notified_at.is_(None))
            ).scalar_one()
        assert unclaimed == 0
    finally:
        for n in nodes:
            n.stop()


def test_a_company_outage_is_one_message_then_news_of_each_new_member(
    notify_node: Node, receiver: Receiver
) -> None:
    subscribe(notify_node, receiver.url, services=[], groups=["meta"])
    first, now = ["facebook", "instagram"], ["facebook", "instagram", "threads"]
    events = [("opened", T0 + 180, first), ("member_added", T0 + 190, now)]
    store(
        notify_node, "meta-1", kind="group", service=None, title="Meta", members=now, events=events
    )
    child = store(notify_node, "facebook-1", events=[("opened", T0 + 180)])
    with notify_node.engine.begin() as conn:
        incident_store.save(conn, replace(child, parent_id="meta-1"))
    notify_node.notify_once()

    assert kinds(receiver) == ["opened", "member_added"]
    opened, added = (r.json() for r in receiver.received)
    assert opened["subject"] == "[panne] Meta is having problems"
    assert (opened["services"], added["services"]) == (first, now)
    assert "Now also affected: Threads" in added["text"]
