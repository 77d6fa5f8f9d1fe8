"""What the shared dedupe costs a worker's commit, on PostgreSQL and SQLite, in one run.

    .venv/bin/python benchmarks/worker_commit.py [--commits 40] [--rows 2000]

Each commit is ``ReportWriter.commit_new`` as the worker calls it, on ``--rows`` single reports
by as many different people (the worst case: every one of them is checked against
``first_reports`` and inserted there), into a new database. The same commits of reports that
the ingest process already did not count (so nothing is checked) are the reference, taken
alternately with the first, so both see the same machine. PostgreSQL is the machine's
(127.0.0.1:5432, a new database dropped afterwards); SQLite a file in a temporary folder.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import Engine

from panne.catalog import default_catalog
from panne.signals.reports import Report, new_report_id
from panne.store import catalog as catalog_store
from panne.store import migrate
from panne.store.engine import make_engine
from panne.store.writer import ReportWriter

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
WINDOW_MS = 900_000


def rows_of(n: int, start_ms: int, counted: bool) -> list[Report]:
    return [
        Report(
            new_report_id(start_ms + i), 1, "login", "FR", start_ms + i, start_ms + i,
            secrets.token_hex(16), counted, "web",
        )
        for i in range(n)
    ]  # fmt: skip


def measure(engine: Engine, commits: int, n: int) -> dict[str, float]:
    migrate.upgrade(engine)
    catalog_store.merge(engine, default_catalog())
    writer = ReportWriter(engine, shared_dedupe_ms=WINDOW_MS)
    spent = {"checked": 0.0, "unchecked": 0.0}
    t_ms = 1_709_650_800_000
    for k in range(commits):
        for kind in ("checked", "unchecked") if k % 2 else ("unchecked", "checked"):
            rows = rows_of(n, t_ms, counted=kind == "checked")
            t_ms += n
            started = time.perf_counter()
            done = writer.commit_new(rows)
            spent[kind] += time.perf_counter() - started
            assert done.stored == n and done.uncounted == 0
    return {kind: commits * n / s for kind, s in spent.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=40)
    ap.add_argument("--rows", type=int, default=2000)
    args = ap.parse_args()
    name = f"panne_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    results: dict[str, dict[str, float]] = {}
    try:
        pg = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
        results["PostgreSQL"] = measure(pg, args.commits, args.rows)
        pg.dispose()
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    with tempfile.TemporaryDirectory() as tmp:
        lite = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        results["SQLite"] = measure(lite, args.commits, args.rows)
        lite.dispose()
    print(f"{args.commits} commits of {args.rows:,} reports each way, reports/s:\n")
    print("| database | each reporter checked | none to check | ratio |")
    print("|---|---|---|---|")
    for db, r in results.items():
        ratio = r["unchecked"] / r["checked"]
        print(f"| {db} | {r['checked']:,.0f} | {r['unchecked']:,.0f} | {ratio:.2f}× |")


if __name__ == "__main__":
    main()
