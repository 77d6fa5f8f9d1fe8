"""Maintenance windows: a service's planned work, during which its incidents notify nobody.

Kept apart from the notification tables because status pages read them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, select

from panne.clock import clamp_input
from panne.store.schema import maintenance_windows, valid_id


@dataclass(frozen=True, slots=True)
class Maintenance:
    id: int
    service: str
    starts_at: int
    ends_at: int
    title: str
    created_at: int


def add(
    engine: Engine, service: str, starts_at: int, ends_at: int, title: str, now: int
) -> Maintenance:
    with engine.begin() as conn:
        new_id = conn.execute(
            maintenance_windows.insert()
            .values(
                service=service, starts_at=starts_at, ends_at=ends_at, title=title, created_at=now
            )
            .returning(maintenance_windows.c.id)
        ).scalar_one()
    return Maintenance(new_id, service, starts_at, ends_at, title, now)


def windows(engine: Engine, service: str | None = None) -> list[Maintenance]:
    """Every window, past, current and future, earliest first. Times are read into the range
    inputs are held to (:func:`panne.clock.clamp_input`), so a row stored before that check
    still lists (and can be cancelled) instead of breaking every page that shows it."""
    stmt = select(maintenance_windows).order_by(maintenance_windows.c.starts_at)
    if service is not None:
        stmt = stmt.where(maintenance_windows.c.service == service)
    with engine.connect() as conn:
        return [
            Maintenance(
                r.id,
                r.service,
                clamp_input(r.starts_at),
                clamp_input(r.ends_at),
                r.title,
                clamp_input(r.created_at),
            )
            for r in conn.execute(stmt)
        ]


def remove(engine: Engine, window_id: int) -> bool:
    if not valid_id(window_id):
        return False
    with engine.begin() as conn:
        done = conn.execute(
            delete(maintenance_windows).where(maintenance_windows.c.id == window_id)
        )
    return bool(done.rowcount)


def active(conn: Connection, services: list[str], at: int) -> dict[str, str]:
    """The services of ``services`` under maintenance at ``at``, with the window's title."""
    if not services:
        return {}
    rows = conn.execute(
        select(maintenance_windows.c.service, maintenance_windows.c.title).where(
            maintenance_windows.c.service.in_(services),
            maintenance_windows.c.starts_at <= at,
            maintenance_windows.c.ends_at > at,
        )
    )
    return {str(s): str(t) for s, t in rows}
