"""`panne serve --demo`: a day of history, then live synthetic traffic with outages.

A newcomer should see a living system within a minute: charts with a baseline, detectors that
already know the daily rhythm, reports arriving, and an outage soon (a sharp one a couple of
minutes after start, then one every half hour or so, and the March 2024 Meta scenario twenty
minutes in). Volumes are scaled down so the demo database stays small, and grow a little from
week to week, as real services do, so the baseline can be seen following them.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy import select

from panne.clock import ManualClock, minute_of
from panne.signals.reports import Report
from panne.simulate import TrafficModel, specs_from_catalog
from panne.simulate.rows import CatalogRows, RowError
from panne.store.schema import counts
from panne.store.upsert import add_counts_sql
from panne.watch import TickResult

if TYPE_CHECKING:
    from panne.node import Node

log = logging.getLogger(__name__)
DEMO_SCALE = 0.3
DEMO_GROWTH_PER_WEEK = 0.1  # 10% more reports a week: about 1.4% a day, which the level follows
HISTORY_MINUTES = 1440


def model_for(node: Node, seed: int) -> TrafficModel:
    return TrafficModel(
        specs_from_catalog(node.catalog),
        seed=seed,
        scale=DEMO_SCALE,
        growth_per_week=DEMO_GROWTH_PER_WEEK,
        start=node.clock.now(),
    )


def backfill(node: Node) -> int:
    """A day of per-minute counts before now, if the database has none: something to learn
    from and to chart. Counts only (no report rows): it is history, not reports."""
    with node.engine.connect() as conn:
        if conn.execute(select(counts.c.minute).limit(1)).first() is not None:
            return 0
    now = minute_of(node.clock.now())
    model = model_for(node, seed=7)
    check = CatalogRows(node.catalog)
    sql = add_counts_sql(node.engine)
    rows = []
    for m in range(now - HISTORY_MINUTES * 60, now, 60):
        rows += check.counts(m, model.minute_counts(m))
    with node.engine.begin() as conn:
        conn.exec_driver_sql(sql, rows)
    log.info("demo: backfilled %d minutes of history", HISTORY_MINUTES)
    return len(rows)


def feed_forever(node: Node, stop: threading.Event, seed: int = 11) -> None:
    """Write synthetic reports as they happen, once a second, until ``stop`` is set."""
    model = model_for(node, seed)
    start = node.clock.now()
    slugs = [s.slug for s in model.services]
    model.add_outage("sharp", slugs[int(model.rng.integers(0, 12))], start + 120, minutes=25)
    model.add_meta_2024(start + 1200)
    model.schedule_random_outages(start + 1800, start + 30 * 86_400, every_minutes=30)
    check = CatalogRows(node.catalog)
    check.check_outages(model.outages)
    last = start
    while not stop.wait(1.0):
        now = node.clock.now()
        try:
            batch = _checked(check, model, last, now)
        except RowError as exc:  # cannot happen with a model made from the catalog; say so
            log.error("demo: %s; these reports are not written", exc)
            batch = []
        last = now
        if batch:
            try:
                node.writer.write_sync(batch)
            except Exception:
                log.exception("demo: writing %d reports failed", len(batch))
        if stop.is_set():
            return


def _checked(check: CatalogRows, model: TrafficModel, start: float, end: float) -> list[Report]:
    """The model's reports in [start, end) as rows, each checked against the catalog."""
    return check.reports(model.reports(start, end), "demo")


def replay(
    node: Node, model: TrafficModel, clock: ManualClock, until: float, tick_seconds: float = 10.0
) -> list[TickResult]:
    """Feed ``model``'s reports into ``node`` and tick its detector every ``tick_seconds`` of
    simulated time until ``until``, as the live roles would: tests, screenshots and benchmarks
    see a real outage unfold without waiting for one."""
    check = CatalogRows(node.catalog)
    check.check_outages(model.outages)
    results = []
    while clock.now() < until:
        t = clock.now()
        batch = _checked(check, model, t, t + tick_seconds)
        if batch:
            node.writer.write_sync(batch)
        clock.advance(tick_seconds)
        results.append(node.watcher.tick())
    return results
