"""`panne simulate`: generated traffic into a database, or against a running server."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from panne.clock import ScaledClock, SystemClock, utc
from panne.simulate.model import ServiceSpec, SimReport, TrafficModel
from panne.simulate.outages import Outage


class SimulateError(Exception):
    """A simulation that cannot run as asked; the message says why."""


def _start(text: str | None) -> float:
    if not text:
        return float(int(SystemClock().now() // 60) * 60)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise SimulateError(f"--start {text!r} is not ISO 8601") from None
    if at.tzinfo is None:
        raise SimulateError("--start needs a time zone, e.g. 2024-03-05T15:00:00Z")
    return at.timestamp()


def _minutes(
    model: TrafficModel, start: float, end: float, speed: float
) -> Iterator[list[SimReport]]:
    """Each simulated minute's reports; with a speed, no sooner than its time comes."""
    pace = ScaledClock(start, speed) if speed > 0 else None
    waiter = threading.Event()
    minute = start
    while minute < end:
        stop = min(minute + 60, end)
        if pace is not None:
            while pace.now() < stop:
                waiter.wait(min(1.0, (stop - pace.now()) / speed))
        yield list(model.reports(minute, stop))
        minute = stop


def simulate(args: argparse.Namespace, say: Callable[[str], Any]) -> None:
    if args.minutes <= 0 or args.scale <= 0 or args.speed < 0:
        raise SimulateError("--minutes and --scale must be positive, --speed zero or more")
    start = _start(args.start)
    end = start + args.minutes * 60
    if args.server:
        if not args.api_key:
            raise SimulateError("--server needs --api-key (a key made with --trusted)")
        specs, send = _server(args.server.rstrip("/"), args.api_key)
    else:
        specs, send = _database(args.database)
    model = TrafficModel(specs, seed=args.seed, scale=args.scale, start=start)
    if args.scenario == "random":
        model.schedule_random_outages(start, end, every_minutes=30)
    elif args.scenario == "meta-2024":
        model.add_meta_2024(start + 600)
    total = 0
    for reports in _minutes(model, start, end, args.speed):
        if reports:
            send(reports)
            total += len(reports)
    say(f"{total} reports from {utc(start):%Y-%m-%d %H:%M} to {utc(end):%H:%M} UTC")
    for o in model.outages:
        say(f"  outage {o.kind}: {o.service} at {utc(o.start):%Y-%m-%d %H:%M} for "
            f"{(o.end - o.start) / 60:.0f} min, peak ×{o.peak_ratio:.0f}")  # fmt: skip
    if args.labels:
        Path(args.labels).write_text(json.dumps([_label(o) for o in model.outages], indent=2))


def _label(o: Outage) -> dict[str, Any]:
    d = asdict(o)
    d["start_iso"] = utc(o.start).isoformat()
    d["end_iso"] = utc(o.end).isoformat()
    return d


Send = Callable[[list[SimReport]], None]


def _database(url: str | None) -> tuple[list[ServiceSpec], Send]:
    from panne.config import load
    from panne.node import Node
    from panne.signals.reports import Report, new_report_id
    from panne.simulate.model import specs_from_catalog

    node = Node(load(database_url=url), background=False)
    node.prepare_database()
    catalog = node.reload_catalog()
    ids = {s.slug: s.id for s in catalog.services.values()}
    node.writer.start()

    def send(reports: list[SimReport]) -> None:
        rows = []
        for r in reports:
            ms = int(r.at * 1000)
            sid = ids[r.service]
            assert sid is not None
            rows.append(Report(new_report_id(ms), sid, r.problem, r.country, ms, ms, None, True,
                               "simulate"))  # fmt: skip
        node.writer.write_sync(rows)

    return specs_from_catalog(catalog), send


def _server(url: str, key: str) -> tuple[list[ServiceSpec], Send]:
    client = httpx.Client(base_url=url, timeout=60, headers={"authorization": f"Bearer {key}"})
    try:
        services = client.get("/api/v1/services").raise_for_status().json()
    except httpx.HTTPError as exc:
        raise SimulateError(f"cannot read the catalog at {url}: {exc}") from None
    specs = [
        ServiceSpec(s["slug"], tuple(p["slug"] for p in s["problems"]), s["group"])
        for s in services
    ]

    def send(reports: list[SimReport]) -> None:
        for i in range(0, len(reports), 10_000):
            body = [
                {
                    "service": r.service,
                    "problem": r.problem,
                    "country": r.country,
                    "timestamp": r.at,
                }
                for r in reports[i : i + 10_000]
            ]
            resp = client.post("/api/v1/reports/batch", json=body)
            if resp.status_code != 202:
                detail = resp.json().get("detail", resp.text) if resp.content else resp.text
                raise SimulateError(f"the server refused a batch ({resp.status_code}): {detail}")

    return specs, send
