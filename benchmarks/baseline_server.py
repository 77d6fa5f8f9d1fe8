"""The ceiling the ingest benchmark compares with: a bare Starlette endpoint that answers after a
group commit into SQLite (WAL, synchronous=FULL), with no validation, geo, hashing or counting.

Run: python benchmarks/baseline_server.py PORT DB_PATH
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import sys
import threading
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

q: queue.SimpleQueue[Any] = queue.SimpleQueue()


def writer(path: str) -> None:
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS r (id INTEGER PRIMARY KEY, body TEXT)")
    while True:
        batch = [q.get()]
        while len(batch) < 2048:
            try:
                batch.append(q.get_nowait())
            except queue.Empty:
                break
        with db:
            db.executemany("INSERT INTO r (body) VALUES (?)", [(b,) for b, _, _ in batch])
        for _, loop, fut in batch:
            loop.call_soon_threadsafe(fut.set_result, None)


async def report(request: Request) -> Response:
    body = await request.body()
    json.loads(body)
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    q.put((body.decode(), loop, fut))
    await fut
    return Response(b'{"ok":true}', 202, media_type="application/json")


if __name__ == "__main__":
    threading.Thread(target=writer, args=(sys.argv[2],), daemon=True).start()
    app = Starlette(routes=[Route("/api/v1/reports", report, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
