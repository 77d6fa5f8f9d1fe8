"""`panne simulate`: generated traffic into a database, or against a running server."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from panne.clock import EARLIEST_INPUT, LATEST_INPUT, ScaledClock, SystemClock, iso_utc, utc
from panne.output_file import PendingFile
from panne.simulate.model import ServiceSpec, SimReport, TrafficModel
from panne.simulate.outages import Outage

BATCH_MAX = 10_000  # the batch endpoint's most reports per request


class SimulateError(Exception):
    """A simulation that cannot run as asked; the message says why."""


def _start(text: str | None, default: float) -> float:
    if not text:
        return float(int(default // 60) * 60)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise SimulateError(f"--start {text!r} is not ISO 8601") from None
    if at.tzinfo is None:
        raise SimulateError("--start needs a time zone, e.g. 2024-03-05T15:00:00Z")
    return at.timestamp()


def _check_window(start: float, end: float, args: argparse.Namespace) -> None:
    """The simulated time within the times a person may give panne (clock.py), whether it
    goes to a server or a database: ingest refuses reports from before 2000, and no reader
    formats a time after 9999 (``utc`` would show a later one as 9999-12-31)."""
    if start >= EARLIEST_INPUT and end <= LATEST_INPUT:
        return
    raise SimulateError(
        f"--start {args.start or iso_utc(start)} with --minutes {args.minutes:g}: the simulated "
        f"time must lie between {iso_utc(EARLIEST_INPUT)} and {iso_utc(LATEST_INPUT)}"
    )


def lead_over_real_time(start: float, end: float, speed: float, now: float) -> float:
    """How far (seconds) simulated time ends up ahead of real time at worst; 0 or less when
    it never runs ahead.

    A minute's reports are sent once its simulated end has come: at once when ``speed`` is 0,
    else when ``start + elapsed × speed`` reaches it. The lead over real time ``now + elapsed``
    changes linearly with the elapsed time, so its worst is at the first or the last minute.
    """
    span = end - start
    last = end - now - (span / speed if speed > 0 else 0.0)
    return max(start - now, last)


def _check_not_ahead(start: float, end: float, args: argparse.Namespace, now: float) -> None:
    """A server refuses reports from the future, and would refuse them only after the batches
    before were stored: refuse up front instead, saying what would do."""
    lead = lead_over_real_time(start, end, args.speed, now)
    if lead <= 0:
        return
    span = end - start
    latest = now - span + (span / args.speed if args.speed > 0 else 0.0)
    latest = min(latest, now)
    paced = f" at --speed {args.speed:g}" if args.speed > 0 else ""
    raise SimulateError(
        f"--start {iso_utc(start)} with --minutes {args.minutes:g}{paced} would send reports "
        f"up to {lead:.0f} s in the future, which the server refuses: start at "
        f"{iso_utc(math.floor(latest / 60) * 60)} or earlier (without --start, the simulated "
        "time ends now)"
    )


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


def _check_numbers(args: argparse.Namespace) -> None:
    """The numbers the parser leaves to this stage (it checks --seed and --scale itself)."""
    numbers = (args.minutes, args.speed, args.growth_per_week)
    if not all(math.isfinite(x) for x in numbers):
        raise SimulateError("--minutes, --speed and --growth-per-week must be numbers")
    if args.minutes <= 0 or args.speed < 0:
        raise SimulateError("--minutes must be positive, --speed zero or more")
    if args.growth_per_week <= -1:
        raise SimulateError("--growth-per-week must be more than -1 (-0.1 is 10% fewer a week)")


def simulate(args: argparse.Namespace, say: Callable[[str], Any]) -> None:
    _check_numbers(args)
    now = SystemClock().now()
    span = args.minutes * 60
    if args.server and not args.api_key:
        raise SimulateError("--server needs --api-key (a key made with --trusted)")
    # A server takes no report from the future: by default the simulated time ends now.
    start = _start(args.start, now - span if args.server else now)
    end = start + span
    _check_window(start, end, args)
    if args.server:
        _check_not_ahead(start, end, args, now)
    labels = PendingFile(Path(args.labels), f"--labels {args.labels}") if args.labels else None
    with labels or contextlib.nullcontext():
        target = (
            _server(args.server.rstrip("/"), args.api_key)
            if args.server
            else _database(args.database, Path(args.config) if args.config else None)
        )
        try:
            total, outages = _run(args, target, start, end)
        finally:
            target.close()
        for o, cut in outages:
            say(f"  outage {o.kind}: {o.service} at {utc(o.start):%Y-%m-%d %H:%M} for "
                f"{(o.end - o.start) / 60:.0f} min{' (still on at the end)' if cut else ''}, "
                f"peak ×{o.peak_ratio:.0f}")  # fmt: skip
        if labels is not None:
            text = json.dumps([_label(o, cut) for o, cut in outages], indent=2)
            labels.commit([text.encode()])
    say(f"{total} reports from {utc(start):%Y-%m-%d %H:%M} to {utc(end):%H:%M} UTC")


def _run(
    args: argparse.Namespace, target: Target, start: float, end: float
) -> tuple[int, list[tuple[Outage, bool]]]:
    """Generate and send the traffic; the reports sent, and the outages it holds."""
    model = TrafficModel(
        target.specs,
        seed=args.seed,
        scale=args.scale,
        growth_per_week=args.growth_per_week,
        start=start,
    )
    if args.scenario == "random":
        model.schedule_random_outages(start, end, every_minutes=30)
    elif args.scenario == "meta-2024":
        model.add_meta_2024(start + 600)
    target.check_outages(model.outages)
    total = 0
    for reports in _minutes(model, start, end, args.speed):
        if not reports:
            continue
        try:
            target.send(reports)
        except SimulateError as exc:
            kept = f"; the {total} reports sent before stay stored" if total else ""
            raise SimulateError(f"{exc}{kept}") from None
        total += len(reports)
    return total, outages_within(model.outages, end)


def outages_within(outages: Sequence[Outage], end: float) -> list[tuple[Outage, bool]]:
    """The outages of simulated time that ends at ``end``, each ended there at the latest, and
    whether it was cut. Random outages are drawn up to the end and last up to 90 minutes, and
    the Meta one starts ten minutes in whatever --minutes says: labels of reports the output
    does not hold would score a detector run over it as missing them."""
    return [(replace(o, end=min(o.end, end)), o.end > end) for o in outages if o.start < end]


def _label(o: Outage, cut: bool) -> dict[str, Any]:
    """An outage as --labels writes it; ``cut_at_end``: still on when the simulated time ends
    (``end`` is then that end, not the outage's)."""
    d = asdict(o)
    d["start_iso"] = utc(o.start).isoformat()
    d["end_iso"] = utc(o.end).isoformat()
    d["cut_at_end"] = cut
    return d


@dataclass
class Target:
    """Where the reports go: the catalog's services, how to send a minute's reports, how to
    check the outages first, and how to finish."""

    specs: list[ServiceSpec]
    send: Callable[[list[SimReport]], None]
    check_outages: Callable[[list[Outage]], None]
    close: Callable[[], None]


def _database(url: str | None, config: Path | None) -> Target:
    from panne.config import load
    from panne.node import Node
    from panne.simulate.model import specs_from_catalog
    from panne.simulate.rows import CatalogRows, RowError

    node = Node(load(config, database_url=url), background=False)
    node.prepare_database()
    catalog = node.reload_catalog()
    rows = CatalogRows(catalog)
    node.writer.start()

    def send(reports: list[SimReport]) -> None:
        try:
            checked = rows.reports(reports, "simulate")
        except RowError as exc:
            raise SimulateError(str(exc)) from None
        node.writer.write_sync(checked)

    def check_outages(outages: list[Outage]) -> None:
        try:
            rows.check_outages(outages)
        except RowError as exc:
            raise SimulateError(str(exc)) from None

    def close() -> None:
        node.writer.stop()
        node.engine.dispose()

    return Target(specs_from_catalog(catalog), send, check_outages, close)


def _server(url: str, key: str) -> Target:
    try:
        client = httpx.Client(base_url=url, timeout=60, headers={"authorization": f"Bearer {key}"})
        resp = client.get("/api/v1/services")
    except httpx.InvalidURL as exc:
        raise SimulateError(f"--server {url!r} is not a valid URL: {exc}") from None
    except httpx.UnsupportedProtocol:
        raise SimulateError(f"--server {url!r} is not an http:// or https:// URL") from None
    except httpx.HTTPError as exc:
        raise SimulateError(f"cannot read the catalog at {url}: {exc}") from None
    if resp.status_code != 200:
        client.close()
        raise SimulateError(
            f"cannot read the catalog at {url} ({resp.status_code}): {_detail(resp)}"
        )
    try:
        specs = [
            ServiceSpec(s["slug"], tuple(p["slug"] for p in s["problems"]), s["group"])
            for s in resp.json()
        ]
    except (ValueError, TypeError, KeyError):
        client.close()
        raise SimulateError(
            f"{url}/api/v1/services did not answer with panne's catalog: is it a panne server?"
        ) from None

    def send(reports: list[SimReport]) -> None:
        for i in range(0, len(reports), BATCH_MAX):
            body = [
                {"service": r.service, "problem": r.problem, "country": r.country,
                 "timestamp": r.at}
                for r in reports[i : i + BATCH_MAX]
            ]  # fmt: skip
            try:
                resp = client.post("/api/v1/reports/batch", json=body)
            except httpx.HTTPError as exc:
                raise SimulateError(f"cannot reach {url}: {exc}") from None
            if resp.status_code != 202:
                raise SimulateError(
                    f"the server refused a batch ({resp.status_code}): {_detail(resp)}"
                )

    def check_outages(outages: list[Outage]) -> None:
        pass  # the server checks every report against its catalog

    return Target(specs, send, check_outages, client.close)


def _detail(resp: httpx.Response) -> str:
    """A refusal in one line: the problem's detail, else the start of whatever came back."""
    try:
        data = resp.json()
    except ValueError:
        data = None
    text = data.get("detail") if isinstance(data, dict) else None
    return " ".join(str(text or resp.text or "(no body)").split())[:300]
