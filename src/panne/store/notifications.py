"""Notifications in the database: subscriptions, the outbox and the delivery log.

Two claims make several notifier processes safe over one database, both compare-and-swap
updates whose row count says who won: an incident event is claimed by setting its
``notified_at`` (:func:`claim_event`), and a queued message by leasing it (:func:`lease`). The
outbox row keeps the attempt count, so a restart resumes the back-off instead of starting over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, exists, or_, select, union_all, update

from panne.store.incidents import IncidentEvent
from panne.store.schema import (
    deliveries,
    incident_events,
    notification_queue,
    subscriptions,
    valid_id,
)

Outcome = str  # delivered | failed | gave_up | refused | suppressed


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    name: str
    services: list[str]
    groups: list[str]
    countries: list[str]
    min_severity: str
    language: str
    channel: str  # webhook | apprise
    url: str
    secret: str | None
    created_at: int
    consecutive_failures: int = 0
    failing: bool = False
    disabled_at: int | None = None
    disabled_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    subscription_id: int
    event_id: int
    incident_id: str
    kind: str
    attempts: int
    next_at: int


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    subscription_id: int
    event_id: int
    incident_id: str
    kind: str
    attempt: int
    at: int
    ok: bool
    outcome: Outcome
    detail: str
    duration_ms: int


def _subscription(r: Any) -> Subscription:
    return Subscription(**{**r._mapping, "failing": bool(r.failing)})


# -- subscriptions -----------------------------------------------------------------------------


def _chosen(sub: Subscription) -> dict[str, Any]:
    """The columns a person chooses; the rest is the subscription's health."""
    return {
        "name": sub.name,
        "services": sub.services,
        "groups": sub.groups,
        "countries": sub.countries,
        "min_severity": sub.min_severity,
        "language": sub.language,
        "channel": sub.channel,
        "url": sub.url,
        "secret": sub.secret,
    }


def create_subscription(engine: Engine, sub: Subscription) -> Subscription:
    """Insert ``sub`` (its ``id`` is ignored) and return it with the id given."""
    values = {
        **_chosen(sub),
        "created_at": sub.created_at,
        "consecutive_failures": 0,
        "failing": False,
        "disabled_at": None,
        "disabled_reason": None,
    }
    with engine.begin() as conn:
        new_id = conn.execute(
            subscriptions.insert().values(**values).returning(subscriptions.c.id)
        ).scalar_one()
        row = conn.execute(select(subscriptions).where(subscriptions.c.id == new_id)).one()
    return _subscription(row)


def subscriptions_list(conn: Connection, *, enabled_only: bool = False) -> list[Subscription]:
    stmt = select(subscriptions).order_by(subscriptions.c.id)
    if enabled_only:
        stmt = stmt.where(subscriptions.c.disabled_at.is_(None))
    return [_subscription(r) for r in conn.execute(stmt)]


def get_subscription(conn: Connection, sub_id: int) -> Subscription | None:
    if not valid_id(sub_id):
        return None
    row = conn.execute(select(subscriptions).where(subscriptions.c.id == sub_id)).first()
    return None if row is None else _subscription(row)


def update_subscription(engine: Engine, sub: Subscription) -> Subscription | None:
    """Store what a person chose of subscription ``sub.id`` (its name, filters, language,
    channel, URL and secret), None if it is gone. A new URL or channel starts the failure
    count afresh: the errors were the old address's. Disabled stays disabled until enabled."""
    values = _chosen(sub)
    with engine.begin() as conn:
        old = get_subscription(conn, sub.id)
        if old is None:
            return None
        if (old.channel, old.url) != (sub.channel, sub.url):
            values |= {"consecutive_failures": 0, "failing": False}
        conn.execute(update(subscriptions).where(subscriptions.c.id == sub.id).values(**values))
        return get_subscription(conn, sub.id)


def delete_subscription(engine: Engine, sub_id: int) -> bool:
    """Delete a subscription and its queued messages; its delivery log stays, under an id no
    later subscription is given (ids are never reused: migration 0009)."""
    if not valid_id(sub_id):
        return False
    with engine.begin() as conn:
        conn.execute(
            delete(notification_queue).where(notification_queue.c.subscription_id == sub_id)
        )
        return bool(
            conn.execute(delete(subscriptions).where(subscriptions.c.id == sub_id)).rowcount
        )


def succeeded(conn: Connection, sub_id: int) -> None:
    conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == sub_id)
        .values(consecutive_failures=0, failing=False)
    )


def gave_up(conn: Connection, sub_id: int, max_failures: int) -> None:
    """One more event lost for good: count it, and mark the subscription failing at the limit."""
    conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == sub_id)
        .values(consecutive_failures=subscriptions.c.consecutive_failures + 1)
    )
    conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == sub_id, subscriptions.c.consecutive_failures >= max_failures)
        .values(failing=True)
    )


def disable(conn: Connection, sub_id: int, reason: str, now: int) -> None:
    """A permanent error: stop sending to this subscription and drop what it still had queued."""
    conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == sub_id)
        .values(disabled_at=now, disabled_reason=reason[:500])
    )
    conn.execute(delete(notification_queue).where(notification_queue.c.subscription_id == sub_id))


def enable(conn: Connection, sub_id: int) -> bool:
    """An operator's way back from :func:`disable` or :func:`gave_up`: send again, with a clean
    failure count. False if there is no such subscription. Events claimed while it was disabled
    are not replayed."""
    if not valid_id(sub_id):
        return False
    done = conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == sub_id)
        .values(disabled_at=None, disabled_reason=None, consecutive_failures=0, failing=False)
    )
    return done.rowcount == 1


# -- events and the outbox ---------------------------------------------------------------------


def unclaimed_events(engine: Engine, limit: int = 200) -> list[IncidentEvent]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(incident_events)
            .where(incident_events.c.notified_at.is_(None))
            .order_by(incident_events.c.id)
            .limit(limit)
        )
        return [IncidentEvent(r.id, r.incident_id, r.kind, r.at, dict(r.snapshot)) for r in rows]


def claim_event(conn: Connection, event_id: int, now: int) -> bool:
    """Compare-and-swap on ``notified_at``: True for exactly one claimant of an event."""
    done = conn.execute(
        update(incident_events)
        .where(incident_events.c.id == event_id, incident_events.c.notified_at.is_(None))
        .values(notified_at=now)
    )
    return done.rowcount == 1


def event(conn: Connection, event_id: int) -> IncidentEvent | None:
    r = conn.execute(select(incident_events).where(incident_events.c.id == event_id)).first()
    return None if r is None else IncidentEvent(r.id, r.incident_id, r.kind, r.at, dict(r.snapshot))


def enqueue(conn: Connection, sub_id: int, ev: IncidentEvent, kind: str, now: int) -> None:
    conn.execute(
        notification_queue.insert().values(
            subscription_id=sub_id,
            event_id=ev.id,
            incident_id=ev.incident_id,
            kind=kind,
            attempts=0,
            next_at=now,
            lease_until=None,
        )
    )


def told(conn: Connection, sub_id: int, incident_id: str) -> list[tuple[str, int]]:
    """What a subscription has been told (or is about to be) of an incident: ``(kind, event
    time)`` in event order, from delivered messages and queued ones."""
    sent = select(deliveries.c.event_id, deliveries.c.kind).where(
        deliveries.c.subscription_id == sub_id,
        deliveries.c.incident_id == incident_id,
        deliveries.c.ok,
    )
    queued = select(notification_queue.c.event_id, notification_queue.c.kind).where(
        notification_queue.c.subscription_id == sub_id,
        notification_queue.c.incident_id == incident_id,
    )
    both = union_all(sent, queued).subquery()
    rows = conn.execute(
        select(both.c.kind, incident_events.c.at)
        .join(incident_events, incident_events.c.id == both.c.event_id)
        .order_by(both.c.event_id)
    )
    return [(str(k), int(at)) for k, at in rows]


def due_jobs(engine: Engine, now: int, limit: int = 100) -> list[Job]:
    """The queued messages that may be sent now: only the oldest of each subscriber's messages
    about one incident, so that a subscriber reads "resolved" after "opened" even when the
    first attempt at "opened" failed and waits for its retry."""
    earlier = notification_queue.alias("earlier")
    with engine.connect() as conn:
        rows = conn.execute(
            select(notification_queue)
            .where(
                ~exists().where(
                    earlier.c.subscription_id == notification_queue.c.subscription_id,
                    earlier.c.incident_id == notification_queue.c.incident_id,
                    earlier.c.id < notification_queue.c.id,
                ),
                notification_queue.c.next_at <= now,
                or_(
                    notification_queue.c.lease_until.is_(None),
                    notification_queue.c.lease_until <= now,
                ),
            )
            .order_by(notification_queue.c.next_at, notification_queue.c.id)
            .limit(limit)
        )
        return [
            Job(r.id, r.subscription_id, r.event_id, r.incident_id, r.kind, r.attempts, r.next_at)
            for r in rows
        ]


def lease(engine: Engine, job: Job, now: int, until: int) -> bool:
    """Compare-and-swap on the lease: True for exactly one sender of a due message. The
    attempt count is part of the condition, so a stale read can never send a message twice."""
    with engine.begin() as conn:
        done = conn.execute(
            update(notification_queue)
            .where(
                notification_queue.c.id == job.id,
                notification_queue.c.attempts == job.attempts,
                or_(
                    notification_queue.c.lease_until.is_(None),
                    notification_queue.c.lease_until <= now,
                ),
            )
            .values(lease_until=until)
        )
    return done.rowcount == 1


def finish(conn: Connection, job_id: int) -> None:
    conn.execute(delete(notification_queue).where(notification_queue.c.id == job_id))


def retry_at(conn: Connection, job_id: int, attempts: int, next_at: int) -> None:
    conn.execute(
        update(notification_queue)
        .where(notification_queue.c.id == job_id)
        .values(attempts=attempts, next_at=next_at, lease_until=None)
    )


def log(
    conn: Connection,
    *,
    sub_id: int,
    ev: IncidentEvent | Job,
    kind: str,
    attempt: int,
    at: int,
    ok: bool,
    outcome: Outcome,
    detail: str = "",
    duration_ms: int = 0,
) -> None:
    """One delivery-log row: an attempt, or a message that was deliberately not sent."""
    event_id = ev.event_id if isinstance(ev, Job) else ev.id
    conn.execute(
        deliveries.insert().values(
            subscription_id=sub_id,
            event_id=event_id,
            incident_id=ev.incident_id,
            kind=kind,
            attempt=attempt,
            at=at,
            ok=ok,
            outcome=outcome,
            detail=detail[:500],
            duration_ms=duration_ms,
        )
    )


def deliveries_list(engine: Engine, sub_id: int | None = None, limit: int = 100) -> list[Delivery]:
    if sub_id is not None and not valid_id(sub_id):
        return []
    stmt = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
    if sub_id is not None:
        stmt = stmt.where(deliveries.c.subscription_id == sub_id)
    with engine.connect() as conn:
        return [Delivery(**{**r._mapping, "ok": bool(r.ok)}) for r in conn.execute(stmt)]
