"""Probe throughput and the scheduler's added latency, against HTTP servers on loopback.

Starts a bare asyncio HTTP server in a subprocess (one core for it, one for the prober),
measures the bare request latency (one plain httpx GET at a time, no scheduler), then runs N
HTTP probes through the real engine (guarded client, scheduler, ProbeRecorder into a fresh
SQLite file) for a bounded time, with the interval compressed so that N probes at the given
interval equal the target load (by default 2,000 probes every 6 s = 20,000 probes a minute,
the same rate as 20,000 probes at 60 s). Reports probes completed per minute, the probe
latency against the bare one, and the scheduler's lateness (slot to first attempt).

``--close`` makes the server close every connection, so each probe opens a new one, as probes
of distinct hosts do; without it the pool reuses connections to the one local origin.
``--full-speed`` asks for far more than can be done (N probes every 5 s, 5 s timeouts; use
``--probes 20000``) to find the ceiling.

Run: .venv/bin/python benchmarks/probes.py [--probes 2000] [--interval 6] [--seconds 30]
     [--close] [--full-speed] [--uvloop]
Loopback only; bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from panne.clock import SystemClock
from panne.signals.probe_kinds import Prober
from panne.signals.probe_scheduler import ProbeScheduler
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.store import migrate
from panne.store.engine import make_engine
from panne.store.probes import ProbeRecorder

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"


class _Http(asyncio.Protocol):
    close = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            extra = b"Connection: close\r\n" if self.close else b""
            self.transport.write(RESPONSE + extra + b"\r\nok")
            if self.close:
                self.transport.close()
                return


def serve(port: int, close: bool) -> None:
    """The server subprocess: answer 200 "ok" to every request, until killed."""
    _Http.close = close

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Http, "127.0.0.1", port, backlog=4096)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bare_latency(url: str, samples: int) -> list[float]:
    """Milliseconds of plain sequential GETs: what a request costs without the engine."""
    out: list[float] = []
    async with httpx.AsyncClient(trust_env=False) as client:
        for _ in range(samples):
            started = time.perf_counter()
            response = await client.get(url)
            out.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    return out


async def run(args: argparse.Namespace, url: str) -> dict[str, float]:
    # With --close the server closes after each answer, so the bare requests connect anew too.
    bare = await bare_latency(url, 300)
    interval = 5.0 if args.full_speed else args.interval
    specs = [
        ProbeSpec(
            id=f"p{i:06d}",
            service="bench",
            kind="http",
            target=url,
            interval_seconds=interval,
            timeout_ms=min(5000, int(interval * 1000)),  # the whole interval, at most 5 s
        )
        for i in range(args.probes)
    ]
    results: list[ProbeResult] = []
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}", synchronous="normal")
        migrate.upgrade(engine)
        recorder = ProbeRecorder(engine, specs)

        def sink(batch: Sequence[ProbeResult]) -> None:
            recorder(batch)
            results.extend(batch)

        clock = SystemClock()
        async with Prober(allow_private=True, clock=clock) as prober:
            scheduler = ProbeScheduler(prober, sink, specs=specs, concurrency=args.concurrency)
            async with scheduler:
                # Skip the first interval (the phases fill in), then count a window.
                await asyncio.sleep(min(interval, args.seconds / 3))
                runs0, t0, w0 = scheduler.runs, time.perf_counter(), clock.now()
                scheduler.lateness.clear()
                await asyncio.sleep(args.seconds)
                runs1, t1, w1 = scheduler.runs, time.perf_counter(), clock.now()
            lateness = [x * 1000 for x in scheduler.lateness] or [float("nan")]
        engine.dispose()
    window = [r for r in results if w0 <= r.at < w1]
    latency = [r.latency_ms for r in window if r.ok] or [float("nan")]
    failed = sum(not r.ok for r in window)
    return {
        "asked_per_min": args.probes * 60 / interval,
        "done_per_min": (runs1 - runs0) * 60 / (t1 - t0),
        "failed": failed,
        "bare_p50": statistics.median(bare),
        "bare_p99": percentile(bare, 0.99),
        "probe_p50": statistics.median(latency),
        "probe_p99": percentile(latency, 0.99),
        "late_p50": statistics.median(lateness),
        "late_p99": percentile(lateness, 0.99),
        "max_in_flight": scheduler.max_in_flight,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=6.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--close", action="store_true")
    parser.add_argument("--full-speed", action="store_true")
    parser.add_argument("--uvloop", action="store_true", help="run the prober on uvloop")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.close)
        return
    if not (1 <= args.probes <= 50_000 and 1 <= args.seconds <= 300):
        parser.error("at most 50,000 probes and 300 seconds")

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cmd = [sys.executable, __file__, "--serve", str(port)] + (["--close"] if args.close else [])
    server = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        coro = run(args, f"http://127.0.0.1:{port}/health")
        if args.uvloop:
            import uvloop

            figures = uvloop.run(coro)
        else:
            figures = asyncio.run(coro)
    finally:
        server.terminate()
        server.wait(timeout=10)

    mode = "new connection per probe" if args.close else "pooled connections"
    f = figures

    def pair(a: float, b: float) -> str:
        return f"{a:.2f} / {b:.2f}"

    rows = [
        ("probes asked per minute", f"{f['asked_per_min']:,.0f}"),
        ("probes done per minute", f"{f['done_per_min']:,.0f}"),
        ("failed runs", f"{f['failed']:.0f}"),
        ("bare request p50 / p99 (ms)", pair(f["bare_p50"], f["bare_p99"])),
        ("probe latency p50 / p99 (ms)", pair(f["probe_p50"], f["probe_p99"])),
        (
            "added latency p50 / p99 (ms)",
            pair(f["probe_p50"] - f["bare_p50"], f["probe_p99"] - f["bare_p99"]),
        ),
        ("slot lateness p50 / p99 (ms)", pair(f["late_p50"], f["late_p99"])),
        ("most attempts in flight", f"{f['max_in_flight']:.0f}"),
    ]
    print(f"| figure ({args.probes} probes, {mode}) | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
