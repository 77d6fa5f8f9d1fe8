"""Operators' words on incidents (investigating, identified, monitoring, resolved): written
through the admin API, read by the status pages and the Statuspage-compatible API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import Engine, select

from panne.store.schema import status_updates

UpdateState = Literal["investigating", "identified", "monitoring", "resolved"]
UPDATE_STATES: tuple[UpdateState, ...] = get_args(UpdateState)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    id: int
    incident_id: str
    state: str
    title: str  # may be empty: the state alone heads the update
    body: str
    author: str
    created_at: int


def add(
    engine: Engine,
    incident_id: str,
    state: UpdateState,
    body: str,
    author: str,
    now: int,
    title: str = "",
) -> StatusUpdate:
    with engine.begin() as conn:
        new_id = conn.execute(
            status_updates.insert()
            .values(
                incident_id=incident_id,
                state=state,
                title=title,
                body=body,
                author=author,
                created_at=now,
            )
            .returning(status_updates.c.id)
        ).scalar_one()
    return StatusUpdate(new_id, incident_id, state, title, body, author, now)


def for_incidents(engine: Engine, incident_ids: Sequence[str]) -> dict[str, list[StatusUpdate]]:
    """Each incident's updates, oldest first (by time, then by id: two written in one second
    keep the order they were written in), in one query."""
    if not incident_ids:
        return {}
    stmt = (
        select(status_updates)
        .where(status_updates.c.incident_id.in_(list(incident_ids)))
        .order_by(status_updates.c.created_at, status_updates.c.id)
    )
    out: dict[str, list[StatusUpdate]] = {}
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            out.setdefault(r.incident_id, []).append(
                StatusUpdate(r.id, r.incident_id, r.state, r.title, r.body, r.author, r.created_at)
            )
    return out
