"""The one writer path: reports and their counts committed together, many requests per commit.

SQLite allows one writer at a time, and a commit that waits for the disk (``synchronous=FULL``)
costs the same for one row as for a thousand. So every request hands its reports to one thread
that takes whatever has queued up meanwhile, writes it in one transaction and then answers all of
them: under load each commit carries many requests (group commit), at rest a request waits for
its own commit only. A request is answered only after the commit that holds it, which is what
makes an accepted report durable.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Engine, select

from panne.signals.reports import Report
from panne.store import first_reports
from panne.store.schema import reports as reports_table
from panne.store.upsert import add_counts_sql, insert_reports_json_sql, insert_reports_sql

log = logging.getLogger(__name__)

Tally = dict[tuple[int, int, str, str], int]
"""Counted reports per (service_id, minute, country, problem)."""
_Done = Callable[[BaseException | None], None]
_Request = tuple[Sequence[Report], Tally | None, _Done]
_STOP = object()
# From this many rows a commit inserts through one JSON document (see insert_reports_json_sql);
# below, binding rows is cheaper and the GIL hand-offs are few.
_JSON_INSERT_MIN_ROWS = 256
_ID_LOOKUP_CHUNK = 1000  # ids per IN (...) when looking for reports already stored


class Committed(NamedTuple):
    """What :meth:`ReportWriter.commit_new` did: reports stored, and how many of them an
    ingest process counted but another process had counted for the same reporter already."""

    stored: int
    uncounted: int


class WriterStopped(RuntimeError):
    """The writer is not running; nothing was written."""


class ReportWriter:
    def __init__(
        self, engine: Engine, *, max_batch: int = 2048, shared_dedupe_ms: int | None = None
    ) -> None:
        """``shared_dedupe_ms``: settle again which reports count against what other processes
        took (:mod:`first_reports`), with this dedupe window; for a database that several
        processes write to."""
        self._engine = engine
        self._max_batch = max_batch
        self._shared_dedupe_ms = shared_dedupe_ms
        self._pruned_at_ms = 0  # report time of the last pruning of first_reports
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._insert_reports = insert_reports_sql(engine)
        self._insert_reports_json = insert_reports_json_sql(engine)
        self._add_counts = add_counts_sql(engine)
        self.commits = 0
        self.written = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="panne-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    async def write(self, reports: Sequence[Report], tally: Tally | None = None) -> None:
        """Return once ``reports`` are committed; raise if the transaction failed.

        ``tally``, when given, must be the counts of ``reports`` (a batch sums them per key
        while it builds them, cheaper than the writer counting report by report).
        """
        if self._thread is None:
            raise WriterStopped("the report writer is not running")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def done(exc: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, fut, exc)

        self._queue.put((reports, tally, done))
        await fut

    def write_sync(self, reports: Sequence[Report]) -> None:
        """The same from a thread without an event loop (CLI, simulation, tests)."""
        if self._thread is None:
            raise WriterStopped("the report writer is not running")
        fut: Future[None] = Future()

        def done(exc: BaseException | None) -> None:
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)

        self._queue.put((reports, None, done))
        fut.result()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            size = len(item[0])
            stop = False
            while size < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
                size += len(nxt[0])
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Request]) -> None:
        rows: list[Report]
        if len(batch) == 1 and isinstance(batch[0][0], list):
            rows = batch[0][0]  # a batch request: its list as it is, not a copy
        else:
            rows = [r for reports, _, _ in batch for r in reports]
        try:
            self._transaction(rows, batch)
        except Exception as exc:
            if len(batch) == 1:
                log.exception("report commit failed (%d reports)", len(rows))
                batch[0][2](exc)
                return
            # One request's failure must not fail the others that shared its transaction.
            for request in batch:
                self._commit([request])
            return
        for _, _, done in batch:
            done(None)

    def _transaction(self, rows: list[Report], batch: list[_Request]) -> None:
        if not rows:
            return
        tally: Tally = {}
        for reports, given, _ in batch:
            for k, n in (_tally(reports) if given is None else given).items():
                tally[k] = tally.get(k, 0) + n
        with self._engine.begin() as conn:
            if self._shared_dedupe_ms is not None:
                repeats = first_reports.repeats(conn, rows, self._shared_dedupe_ms)
                rows = _uncount(rows, repeats, tally)
            self._insert(conn, rows, tally)
        self.commits += 1
        self.written += len(rows)
        self._forget_old(rows)

    def commit_new(self, rows: Sequence[Report]) -> Committed:
        """Commit those of ``rows`` not stored yet, with their counts, in one transaction, here
        and now.

        For reports that were accepted elsewhere and may arrive twice: a worker of the report
        stream that died between its commit and its ack leaves the message to be delivered
        again, and its reports must be stored and counted once. Which of them count is
        settled again against the reports other processes took (:mod:`first_reports`), with
        ``shared_dedupe_ms``.
        """
        if not rows:
            return Committed(0, 0)
        ids = [r.id for r in rows]
        with self._engine.begin() as conn:
            known: set[str] = set()
            for i in range(0, len(ids), _ID_LOOKUP_CHUNK):
                chunk = ids[i : i + _ID_LOOKUP_CHUNK]
                known.update(
                    conn.execute(
                        select(reports_table.c.id).where(reports_table.c.id.in_(chunk))
                    ).scalars()
                )
            fresh = [r for r in rows if r.id not in known]
            repeats: list[int] = []
            if self._shared_dedupe_ms is not None:
                repeats = first_reports.repeats(conn, fresh, self._shared_dedupe_ms)
                fresh = _uncount(fresh, repeats, None)
            if fresh:
                self._insert(conn, fresh, _tally(fresh))
        self.commits += 1
        self.written += len(fresh)
        self._forget_old(fresh)
        return Committed(len(fresh), len(repeats))

    def _forget_old(self, committed: Sequence[Report]) -> None:
        """Delete the reporters of first_reports whose window has passed, each time the
        reports' time has moved a quarter of the window; in a transaction of its own, so that
        it holds no row a commit waits for. By the reports' clock, not this machine's: it is
        the one their times are on."""
        window = self._shared_dedupe_ms
        if window is None or not committed:
            return
        newest = max(r.received_ms for r in committed)
        if newest - self._pruned_at_ms < window // 4:
            return
        self._pruned_at_ms = newest
        try:
            with self._engine.begin() as conn:
                first_reports.prune(conn, newest - window)
        except Exception:  # the next one will: the rows left count nothing twice
            log.exception("pruning first_reports failed")

    def _insert(self, conn: Connection, rows: list[Report], tally: Tally) -> None:
        if self._insert_reports_json is not None and len(rows) >= _JSON_INSERT_MIN_ROWS:
            doc = orjson.dumps(rows, default=tuple).decode()
            conn.exec_driver_sql(self._insert_reports_json, (doc,))
        else:
            conn.exec_driver_sql(self._insert_reports, rows)
        if tally:
            # In key order, as first_reports: processes adding to the same counts at once
            # (workers, or processes sharing a PostgreSQL database) wait instead of deadlocking.
            conn.exec_driver_sql(
                self._add_counts,
                [(s, m, c, p, n) for (s, m, c, p), n in sorted(tally.items())],
            )


def _tally(rows: Sequence[Report]) -> Tally:
    return Counter(
        (r.service_id, r.occurred_ms // 60_000 * 60, r.country, r.problem)
        for r in rows
        if r.counted
    )


def _uncount(rows: list[Report], indices: list[int], tally: Tally | None) -> list[Report]:
    """``rows`` with those at ``indices`` no longer counted, and taken out of ``tally``."""
    if not indices:
        return rows
    rows = list(rows)
    for i in indices:
        r = rows[i] = rows[i]._replace(counted=False)
        if tally is not None:
            key = (r.service_id, r.minute, r.country, r.problem)
            tally[key] -= 1
            if not tally[key]:
                del tally[key]
    return rows


def _settle(fut: asyncio.Future[None], exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is None:
        fut.set_result(None)
    else:
        fut.set_exception(exc)
