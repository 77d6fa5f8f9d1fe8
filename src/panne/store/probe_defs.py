"""Probe definitions as the admin API and the read API see them, and the upkeep of results.

store/probes.py holds the hot path (the recorder, the specs the scheduler loads, uptime); this
module holds what people do to definitions (list, pause, delete), the per-probe view the read
API serves, and the daily pruning of results. A definition is *paused* when its ``enabled``
column is false: it stays listed with its history, but the probe role no longer runs it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Connection, Engine, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from panne.signals.probe_state import ProbeStatus
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.store.schema import probe_results, probe_state, probes

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredProbe:
    """A definition with what the read API shows beside it."""

    spec: ProbeSpec
    paused: bool
    updated_at: float
    state: ProbeStatus  # "unknown" until a first result is recorded
    since: float | None
    origin: str = "admin"  # where it was defined: "admin" (the admin API) or "catalog"


def list_probes(engine: Engine, service: str | None = None) -> list[StoredProbe]:
    """Every definition (paused ones included), by id, with its up/down state."""
    query = (
        select(probes, probe_state.c.state, probe_state.c.since)
        .outerjoin(probe_state, probe_state.c.probe_id == probes.c.id)
        .order_by(probes.c.id)
    )
    if service is not None:
        query = query.where(probes.c.service == service)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        StoredProbe(
            ProbeSpec.from_dict(row.spec),
            not row.enabled,
            row.updated_at / 1000,
            cast(ProbeStatus, row.state or "unknown"),
            None if row.since is None else row.since / 1000,
            row.origin,
        )
        for row in rows
    ]


def get_probe(engine: Engine, probe_id: str) -> StoredProbe | None:
    return next((p for p in list_probes(engine) if p.spec.id == probe_id), None)


def probe_ids(engine: Engine) -> set[str]:
    """The ids of every definition, paused or not."""
    with engine.connect() as conn:
        return set(conn.execute(select(probes.c.id)).scalars())


def set_paused(engine: Engine, probe_id: str, paused: bool, *, now: float) -> bool:
    """Pause or resume a probe; False when there is no such probe."""
    with engine.begin() as conn:
        done = conn.execute(
            update(probes)
            .where(probes.c.id == probe_id)
            .values(enabled=not paused, updated_at=round(now * 1000))
        )
    return done.rowcount > 0


def delete_probe(engine: Engine, probe_id: str) -> bool:
    """Remove a definition and its state. Its results stay until pruned (their table keeps no
    foreign key, see schema.py), so a probe re-created under the same id starts ``unknown``."""
    with engine.begin() as conn:
        return drop_probe(conn, probe_id)


def drop_probe(conn: Connection, probe_id: str) -> bool:
    """:func:`delete_probe` in the caller's transaction."""
    done = conn.execute(delete(probes).where(probes.c.id == probe_id))
    conn.execute(delete(probe_state).where(probe_state.c.probe_id == probe_id))
    return done.rowcount > 0


def last_result(engine: Engine, probe_id: str) -> ProbeResult | None:
    """The newest stored run of a probe (one index look-up on ``(probe_id, at)``)."""
    query = (
        select(probe_results)
        .where(probe_results.c.probe_id == probe_id)
        .order_by(probe_results.c.at.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return ProbeResult(
        row.probe_id, row.at / 1000, row.ok, row.latency_ms, row.error_class, row.detail
    )


def prune_results(engine: Engine, *, before: float) -> int:
    """Delete the results that started before ``before`` (epoch seconds); how many went."""
    with engine.begin() as conn:
        done = conn.execute(delete(probe_results).where(probe_results.c.at < round(before * 1000)))
    return int(done.rowcount or 0)


def probes_down(engine: Engine) -> float:
    """How many probes are down now, for a gauge read at scrape time; NaN when the store cannot
    be read, so one bad scrape of this figure does not fail the whole scrape."""
    try:
        with engine.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(probe_state)
                .join(probes, probes.c.id == probe_state.c.probe_id)
                .where(probe_state.c.state == "down", probes.c.enabled.is_(True))
            ).scalar()
    except SQLAlchemyError:
        log.warning("metrics: the probe state could not be read", exc_info=True)
        return math.nan
    return float(count or 0)
