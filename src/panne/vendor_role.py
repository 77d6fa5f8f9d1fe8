"""The vendor role: vendors' status pages polled on schedule, their states and changes stored.

Vendor pages are other people's servers, slow or unreachable at the very moments that matter,
so, like the probe role, the role has its own thread and event loop (``panne-vendors``) and
never delays a detector tick or a report. Every :data:`TICK_SECONDS` it calls
:func:`~panne.signals.vendor_poll.poll_due`, which claims the sources whose time has come in
the database (so several nodes over one database never fetch a page twice) and records what
each page said; sources, their intervals and their back-off live in the database, so there is
nothing to reload. The admin API calls :meth:`VendorRole.changed` so a new source is read at
once rather than at the next tick.

:meth:`VendorRole.run_once` polls every source once now, due or not, through the same path:
``node.vendor_once()``, the tests and ``panne vendor poll`` use it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from panne.clock import Clock
from panne.config import Settings
from panne.signals.vendor_poll import (
    LEASE_SECONDS,
    PollPolicy,
    client_from_settings,
    poll_due,
    poll_one,
)
from panne.signals.vendor_status import VendorState
from panne.store import vendor_status as store
from panne.store.schema import vendor_sources, vendor_states

if TYPE_CHECKING:  # metrics.py reads pages_stale from here
    from panne.metrics import Metrics

log = logging.getLogger(__name__)
TICK_SECONDS = 5.0  # how often due sources are looked for; each has its own interval (≥ 30 s)


def outcome(state: VendorState) -> str:
    """The ``outcome`` label of one poll: a failed poll leaves its state stale."""
    return "error" if state.stale else "ok"


def pages_stale(engine: Engine) -> float:
    """How many sources' latest poll failed, for a gauge read at scrape time; NaN when the
    store cannot be read, so one bad figure does not fail the whole scrape."""
    try:
        with engine.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(vendor_states)
                .join(vendor_sources, vendor_sources.c.service == vendor_states.c.service)
                .where(vendor_states.c.stale.is_(True))
            ).scalar()
    except SQLAlchemyError:
        log.warning("metrics: the vendors' states could not be read", exc_info=True)
        return math.nan
    return float(count or 0)


class VendorRole:
    def __init__(self, engine: Engine, settings: Settings, clock: Clock, metrics: Metrics):
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.policy = PollPolicy.from_settings(settings)
        self.tick_seconds = TICK_SECONDS
        self._wake = threading.Event()

    def changed(self) -> None:
        """Sources changed in this process: look for due ones now rather than at the next tick."""
        self._wake.set()

    def wake(self) -> None:
        """Interrupt the wait between ticks (the node sets its stop event first)."""
        self._wake.set()

    def _observe(self, states: Sequence[VendorState]) -> None:
        for state in states:
            self.metrics.vendor_polled(outcome(state))

    # -- the background role --------------------------------------------------------------

    def serve(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set (in a thread of its own); call :meth:`wake` after setting
        it so the role does not finish its wait first."""
        asyncio.run(self._serve(stop))

    async def _serve(self, stop: threading.Event) -> None:
        async with client_from_settings(self.settings) as client:
            while not stop.is_set():
                self._wake.clear()
                try:
                    states = await poll_due(self.engine, client, self.clock.now(), self.policy)
                    self._observe(states)
                except Exception:  # keep polling: the store may come back
                    log.exception("vendors: polling the due sources failed")
                await asyncio.to_thread(self._wake.wait, self.tick_seconds)

    # -- once -----------------------------------------------------------------------------

    def run_once(self) -> list[VendorState]:
        """Every source polled once now, due or not, recorded; for tests and the CLI."""
        states = asyncio.run(self._poll_all())
        self._observe(states)
        return states

    async def _poll_all(self) -> list[VendorState]:
        now = self.clock.now()
        rows = await asyncio.to_thread(store.load_sources, self.engine)
        if not rows:
            return []
        # Claimed as due polls are, as if the latest were due now: the compare-and-swap skips
        # a source another poller claimed since the load, and the lease covers a poll that dies.
        claim_at = max(now, *(r.next_poll_at for r in rows))
        claimed = await asyncio.to_thread(
            lambda: store.claim_due(
                self.engine, now=claim_at, lease_seconds=LEASE_SECONDS, limit=len(rows)
            )
        )
        gate = asyncio.Semaphore(self.policy.concurrency)
        async with client_from_settings(self.settings) as client:

            async def one(row: store.SourceRow) -> VendorState:
                async with gate:
                    return await poll_one(self.engine, client, row, now, self.policy)

            states = await asyncio.gather(*(one(r) for r in claimed))
        return sorted(states, key=lambda s: s.service)
