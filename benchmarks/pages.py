"""Page speed and weight: the service page over a month of history, served for real.

Fills an SQLite file with `--days` of simulated per-minute counts for every service in the
default catalog (69, of which the page shows one), schedules random outages so there are
incidents to list, warms the detector (which stores a day of expectations for the charts'
band), then serves the app with uvicorn on loopback and times each page from an httpx client:
median and p95 wall time of `--requests` requests (the server's time plus a loopback round
trip, the client on the same two cores), and the bytes on the wire with gzip.

Run: .venv/bin/python benchmarks/pages.py [--days 30] [--requests 50] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import LiveServer, settings_for

from panne.clock import ManualClock, minute_of
from panne.node import Node
from panne.simulate import TrafficModel, specs_from_catalog
from panne.store.upsert import add_counts_sql

NOW = 1_709_650_800.0  # 2024-03-05 15:00 UTC
PAGES = [
    "/services/facebook",
    "/services/facebook?step=1m",
    "/",
    "/incidents",
    "/map",
    "/groups/meta",
    "/status/meta",
]


def fill(node: Node, days: int, scale: float) -> int:
    """Per-minute counts for `days` before NOW, written as the store's writer would."""
    ids = {s.slug: s.id for s in node.catalog.services.values()}
    start = minute_of(NOW) - days * 86_400
    model = TrafficModel(specs_from_catalog(node.catalog), seed=5, scale=scale, start=start)
    model.schedule_random_outages(start, NOW, every_minutes=240)
    sql = add_counts_sql(node.engine)
    rows = 0
    for day in range(days):
        batch = []
        for m in range(start + day * 86_400, start + (day + 1) * 86_400, 60):
            batch += [(ids[s], m, c, p, n) for s, c, p, n in model.minute_counts(m)]
        with node.engine.begin() as conn:
            conn.exec_driver_sql(sql, batch)
        rows += len(batch)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'pages.db'}"
        clock = ManualClock(NOW)
        node = Node(settings_for(url, detect_warmup_days=7), clock=clock, background=False)
        node.prepare_database()
        node.reload_catalog()
        t0 = time.perf_counter()
        rows = fill(node, args.days, args.scale)
        fill_s = time.perf_counter() - t0
        size_mb = (Path(tmp) / "pages.db").stat().st_size / 1e6
        print(f"history: {args.days} days, {rows:,} count rows, {size_mb:.0f} MB, {fill_s:.0f} s")
        # The largest status page a visitor can ask for: 50 services, 90 days of uptime each.
        chosen = ",".join(sorted(node.catalog.services)[:50])
        paths = {**{p: p for p in PAGES}, "/status?services=(50)": f"/status?services={chosen}"}
        with (
            LiveServer(node, start_seconds=900) as server,
            httpx.Client(headers={"accept-encoding": "gzip"}) as c,
        ):
            print("| page | first ms | median ms | p95 ms | KB on the wire (gzip) | KB raw |")
            print("|---|---|---|---|---|---|")
            for name, path in paths.items():
                t = time.perf_counter()
                c.get(server.url + path)  # the first request fills the minute's caches
                first = (time.perf_counter() - t) * 1000
                times, wire, raw = [], 0, 0
                for _ in range(args.requests):
                    t = time.perf_counter()
                    r = c.get(server.url + path)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, (path, r.status_code)
                    wire, raw = r.num_bytes_downloaded, len(r.content)
                times.sort()
                p95 = times[int(0.95 * (len(times) - 1))]
                print(
                    f"| `{name}` | {first:.1f} | {statistics.median(times):.1f} | {p95:.1f} "
                    f"| {wire / 1024:.0f} | {raw / 1024:.0f} |"
                )


if __name__ == "__main__":
    main()
