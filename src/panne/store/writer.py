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
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select

from panne.signals.reports import Report
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


class WriterStopped(RuntimeError):
    """The writer is not running; nothing was written."""


class ReportWriter:
    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = 2048,
        on_commit: Callable[[Sequence[Report]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._on_commit = on_commit
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
        if rows and self._on_commit is not None:
            try:
                self._on_commit(rows)
            except Exception:
                log.exception("on_commit hook failed")

    def _transaction(self, rows: list[Report], batch: list[_Request]) -> None:
        if not rows:
            return
        tally: Tally = {}
        for reports, given, _ in batch:
            for k, n in (_tally(reports) if given is None else given).items():
                tally[k] = tally.get(k, 0) + n
        with self._engine.begin() as conn:
            self._insert(conn, rows, tally)
        self.commits += 1
        self.written += len(rows)

    def commit_new(self, rows: Sequence[Report]) -> int:
        """Commit those of ``rows`` not stored yet, with their counts, in one transaction, here
        and now; return how many were new.

        For reports that were accepted elsewhere and may arrive twice: a worker of the report
        stream that died between its commit and its ack leaves the message to be delivered
        again, and its reports must be stored and counted once.
        """
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
            if fresh:
                self._insert(conn, fresh, _tally(fresh))
        self.commits += 1
        self.written += len(fresh)
        return len(fresh)

    def _insert(self, conn: Connection, rows: list[Report], tally: Tally) -> None:
        if self._insert_reports_json is not None and len(rows) >= _JSON_INSERT_MIN_ROWS:
            doc = orjson.dumps(rows, default=tuple).decode()
            conn.exec_driver_sql(self._insert_reports_json, (doc,))
        else:
            conn.exec_driver_sql(self._insert_reports, rows)
        if tally:
            conn.exec_driver_sql(
                self._add_counts,
                [(s, m, c, p, n) for (s, m, c, p), n in tally.items()],
            )


def _tally(rows: Sequence[Report]) -> Tally:
    return Counter(
        (r.service_id, r.occurred_ms // 60_000 * 60, r.country, r.problem)
        for r in rows
        if r.counted
    )


def _settle(fut: asyncio.Future[None], exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is None:
        fut.set_result(None)
    else:
        fut.set_exception(exc)
