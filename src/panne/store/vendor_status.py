"""Vendors' official status in the database: sources, the latest state, and its changes.

The poller's bookkeeping lives beside each source (validators for conditional requests, the
consecutive-failure count, the next poll time), so a restart neither hammers a failing vendor
nor forgets what it already has. A poller *claims* a due source by moving its ``next_poll_at``
forward with a compare-and-swap before fetching it, so two pollers (two nodes, or a poll that
overran its tick) never fetch one page twice; a poller that dies mid-fetch loses its claim when
the lease runs out. :func:`record` writes the state, the bookkeeping and, when the state or its
staleness changed, a ``vendor_events`` row, in one transaction. Times are epoch milliseconds in
the tables, seconds in the dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, delete, select, update

from panne.signals.vendor_status import (
    SourceKind,
    StateName,
    VendorIncident,
    VendorSource,
    VendorState,
)
from panne.store.schema import vendor_events, vendor_sources, vendor_states


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _s(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


@dataclass(frozen=True, slots=True)
class SourceRow:
    """A source with its poller's bookkeeping."""

    source: VendorSource
    etag: str | None
    last_modified: str | None
    next_poll_at: float
    failures: int
    origin: str = "admin"  # where it was defined: "admin" or "catalog"


@dataclass(frozen=True, slots=True)
class VendorEvent:
    """A change of a service's vendor state (``from_state`` None: the source's first state)."""

    id: int
    service: str
    at: float
    from_state: StateName | None
    to_state: StateName
    stale: bool
    description: str
    error: str | None


def source_of(row: Row[Any]) -> VendorSource:
    """The source a ``vendor_sources`` row holds."""
    return VendorSource(
        row.service,
        cast(SourceKind, row.kind),
        row.url,
        tuple(row.components),
        row.interval_seconds,
    )


def _source_row(row: Row[Any]) -> SourceRow:
    return SourceRow(
        source_of(row),
        row.etag,
        row.last_modified,
        row.next_poll_at / 1000,
        row.failures,
        row.origin,
    )


def upsert_source(engine: Engine, source: VendorSource, *, now: float) -> bool:
    """Add or replace the source of ``source.service``; True when it was new.

    A source whose kind, URL or components changed is polled at once with fresh bookkeeping
    (the old validators describe another document); a new interval alone applies from the
    next poll, so re-registering the same sources at every start costs nothing.
    """
    with engine.begin() as conn:
        return write_source(conn, source, now=now)


def write_source(
    conn: Connection, source: VendorSource, *, now: float, origin: str | None = None
) -> bool:
    """:func:`upsert_source` in the caller's transaction. ``origin`` ("admin" or "catalog")
    is written when given; unset, a new source is "admin" and a replaced one keeps its own."""
    values: dict[str, Any] = {
        "kind": source.kind,
        "url": source.url,
        "components": list(source.components),
        "interval_seconds": source.interval_seconds,
        "updated_at": _ms(now),
        **({} if origin is None else {"origin": origin}),
    }
    old = conn.execute(
        select(vendor_sources).where(vendor_sources.c.service == source.service)
    ).first()
    if old is None:
        conn.execute(
            vendor_sources.insert().values(
                service=source.service, next_poll_at=_ms(now), failures=0, **values
            )
        )
        return True
    if (old.kind, old.url, list(old.components)) != (
        source.kind,
        source.url,
        list(source.components),
    ):
        values |= {"etag": None, "last_modified": None, "failures": 0}
        values["next_poll_at"] = _ms(now)
    conn.execute(
        update(vendor_sources).where(vendor_sources.c.service == source.service).values(**values)
    )
    return False


def remove_source(engine: Engine, service: str) -> bool:
    """Forget a service's source and its latest state; its events stay as history."""
    with engine.begin() as conn:
        return drop_source(conn, service)


def drop_source(conn: Connection, service: str) -> bool:
    """:func:`remove_source` in the caller's transaction."""
    gone = conn.execute(delete(vendor_sources).where(vendor_sources.c.service == service))
    conn.execute(delete(vendor_states).where(vendor_states.c.service == service))
    return gone.rowcount > 0


def load_sources(engine: Engine) -> list[SourceRow]:
    with engine.connect() as conn:
        rows = conn.execute(select(vendor_sources).order_by(vendor_sources.c.service)).all()
    return [_source_row(r) for r in rows]


def claim_due(
    engine: Engine, *, now: float, lease_seconds: float, limit: int = 100
) -> list[SourceRow]:
    """The sources due at ``now``, each claimed by moving its next poll ``lease_seconds``
    ahead, only if no one moved it first."""
    claimed: list[SourceRow] = []
    with engine.begin() as conn:
        rows = conn.execute(
            select(vendor_sources)
            .where(vendor_sources.c.next_poll_at <= _ms(now))
            .order_by(vendor_sources.c.next_poll_at, vendor_sources.c.service)
            .limit(limit)
        ).all()
        for row in rows:
            won = conn.execute(
                update(vendor_sources)
                .where(vendor_sources.c.service == row.service)
                .where(vendor_sources.c.next_poll_at == row.next_poll_at)
                .values(next_poll_at=_ms(now + lease_seconds))
            )
            if won.rowcount == 1:
                claimed.append(_source_row(row))
    return claimed


def _state(row: Row[Any]) -> VendorState:
    return VendorState(
        row.service,
        cast(StateName, row.state),
        row.description,
        tuple(VendorIncident.from_dict(i) for i in row.incidents),
        _s(row.fetched_at),
        bool(row.stale),
        row.error,
    )


def load_state(engine: Engine, service: str) -> VendorState | None:
    with engine.connect() as conn:
        row = conn.execute(select(vendor_states).where(vendor_states.c.service == service)).first()
    return None if row is None else _state(row)


def load_states(engine: Engine) -> dict[str, VendorState]:
    with engine.connect() as conn:
        rows = conn.execute(select(vendor_states)).all()
    return {row.service: _state(row) for row in rows}


def _write_state(conn: Connection, state: VendorState, exists: bool) -> None:
    values = {
        "state": state.state,
        "description": state.description[:500],
        "incidents": [i.to_dict() for i in state.incidents],
        "fetched_at": None if state.fetched_at is None else _ms(state.fetched_at),
        "stale": state.stale,
        "error": None if state.error is None else state.error[:500],
    }
    if exists:
        conn.execute(
            update(vendor_states).where(vendor_states.c.service == state.service).values(**values)
        )
    else:
        conn.execute(vendor_states.insert().values(service=state.service, **values))


def record(
    engine: Engine,
    state: VendorState,
    *,
    now: float,
    etag: str | None,
    last_modified: str | None,
    failures: int,
    next_poll_at: float,
) -> VendorEvent | None:
    """Store one poll's outcome; returns the event when the state (or its staleness) changed.

    A source removed while it was being polled stays removed: nothing is written for it.
    """
    with engine.begin() as conn:
        bookkeeping = conn.execute(
            update(vendor_sources)
            .where(vendor_sources.c.service == state.service)
            .values(
                etag=etag,
                last_modified=last_modified,
                failures=failures,
                next_poll_at=_ms(next_poll_at),
            )
        )
        if bookkeeping.rowcount == 0:
            return None
        old = conn.execute(
            select(vendor_states.c.state, vendor_states.c.stale).where(
                vendor_states.c.service == state.service
            )
        ).first()
        _write_state(conn, state, exists=old is not None)
        if old is not None and (old.state, bool(old.stale)) == (state.state, state.stale):
            return None
        values = {
            "service": state.service,
            "at": _ms(now),
            "from_state": None if old is None else old.state,
            "to_state": state.state,
            "stale": state.stale,
            "description": state.description[:500],
            "error": None if state.error is None else state.error[:500],
        }
        event_id = conn.execute(vendor_events.insert().values(**values)).inserted_primary_key
    assert event_id is not None
    return VendorEvent(
        int(event_id[0]),
        state.service,
        now,
        cast(StateName | None, values["from_state"]),
        state.state,
        state.stale,
        str(values["description"]),
        state.error,
    )


def load_events(
    engine: Engine, *, service: str | None = None, after_id: int = 0, limit: int = 1000
) -> list[VendorEvent]:
    """State changes in order, optionally of one service, after a known id."""
    query = select(vendor_events).where(vendor_events.c.id > after_id)
    if service is not None:
        query = query.where(vendor_events.c.service == service)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(vendor_events.c.id).limit(limit)).all()
    return [
        VendorEvent(
            r.id,
            r.service,
            r.at / 1000,
            cast(StateName | None, r.from_state),
            cast(StateName, r.to_state),
            bool(r.stale),
            r.description,
            r.error,
        )
        for r in rows
    ]
