"""The report log: where an accepted report is made durable before its 202.

One node commits each report itself (:class:`panne.store.writer.ReportWriter`, SQLite or
PostgreSQL). Many ingest processes publish to NATS JetStream instead
(:class:`panne.bus.jetstream.Publisher`) and answer once the stream has stored the report;
``panne worker`` processes (:mod:`panne.worker_role`) store and count it. Both take the same
calls, so the ingest path does not know which one it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from panne.signals.reports import Report
from panne.store.writer import Tally


class LogUnavailable(RuntimeError):
    """The report log cannot take reports now (the stream is unreachable); nothing was
    accepted, and the client should try again shortly."""


class ReportLog(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    async def write(self, reports: Sequence[Report], tally: Tally | None = None) -> None:
        """Return once ``reports`` are durable; raise if they are not."""

    def write_sync(self, reports: Sequence[Report]) -> None:
        """The same from a thread without an event loop (CLI, simulation, demo)."""
