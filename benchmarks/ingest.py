"""Ingest throughput and latency of a running `panne serve`, against a bare ceiling, in one run.

Starts `panne serve` (fresh SQLite file, rate limits off: every request comes from 127.0.0.1)
and the bare Starlette + group-commit baseline (benchmarks/baseline_server.py), drives each with
wrk (Debian's package) at 64 connections, then sends 10,000-report batches from 4 concurrent
clients, and reads the server's memory from /proc. Prints a Markdown table.

Run: .venv/bin/python benchmarks/ingest.py [--seconds 20] [--connections 64] [--before DIR]
     [--stream]

``--stream`` also measures the roles apart, in the same run: `panne ingest` publishing to NATS
JetStream (127.0.0.1:4222) with one `panne worker` storing into a new PostgreSQL database
(127.0.0.1:5432), the same load; then how long the worker took to store what was accepted.

``--before DIR`` also measures the panne whose sources are in DIR (e.g. a worktree of the
previous commit: ``git worktree add /tmp/panne-before HEAD``; it runs from DIR/src with this
virtualenv), in the same run, and prints its figures in a second column.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local services = {"facebook", "instagram", "whatsapp", "youtube", "x", "tiktok"}
local problems = {"login", "server-connection", "other"}  -- valid for all six
local countries = {"US", "GB", "FR", "TN", "BR", "IN"}
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"service":"%s","problem":"%s","country":"%s"}',
    services[n % #services + 1], problems[n % #problems + 1], countries[n % #countries + 1])
  return wrk.format(nil, "/api/v1/reports", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %d, \\"seconds\\": %f, \\"p50_us\\": %d, " ..
    "\\"p99_us\\": %d, \\"non2xx\\": %d, \\"errors\\": %d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    sys.exit(f"server at {url} did not start")


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    kb = int(re.search(r"VmHWM:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    return kb / 1024


def run_wrk(port: int, seconds: int, connections: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/api/v1/reports",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data: dict[str, float] = json.loads(out.split("JSON ", 1)[1].splitlines()[0])
    data["rps"] = data["requests"] / data["seconds"]
    return data


def batch_rate(port: int, key: str, batches: int = 40, clients: int = 4) -> float:
    items = [
        {"service": s, "problem": "login", "country": c}
        for s in ("facebook", "instagram", "whatsapp", "youtube")
        for c in ("US", "GB", "FR", "TN", "BR")
    ] * 500  # 10,000
    body = json.dumps(items).encode()
    per_client = batches // clients

    def client() -> None:
        with httpx.Client(timeout=120) as c:
            for _ in range(per_client):
                r = c.post(
                    f"http://127.0.0.1:{port}/api/v1/reports/batch",
                    content=body,
                    headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
                )
                r.raise_for_status()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per_client * clients * len(items) / (time.perf_counter() - t0)


def measure_panne(
    tmp: Path, name: str, env: dict[str, str], args: argparse.Namespace, script: Path
) -> dict[str, float]:
    """Single-report wrk run, then batches, then peak memory, of one fresh `panne serve`."""
    panne_bin = str(Path(sys.executable).with_name("panne"))
    port = free_port()
    db = f"sqlite:///{tmp / name}.db"
    key = subprocess.run(
        [panne_bin, "apikey", "create", "bench", "--database", db],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    server = subprocess.Popen(
        [panne_bin, "serve", "--port", str(port), "--database", db],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", server)
        run_wrk(port, 3, args.connections, script)
        single = run_wrk(port, args.seconds, args.connections, script)
        single["batch"] = batch_rate(port, key)
        single["memory"] = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
    return single


def measure_stream(env: dict[str, str], args: argparse.Namespace, script: Path) -> dict[str, float]:
    """The same load on `panne ingest` → JetStream, one `panne worker` → PostgreSQL."""
    import secrets

    import psycopg

    panne_bin = str(Path(sys.executable).with_name("panne"))
    name = f"panne_bench_{secrets.token_hex(4)}"
    admin = "postgresql://postgres@127.0.0.1:5432/test"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    env = {**env, "PANNE_DATABASE_URL": db, "PANNE_NATS_URL": "nats://127.0.0.1:4222",
           "PANNE_NATS_STREAM": name.upper()}  # fmt: skip
    port = free_port()
    procs = []
    try:
        key = subprocess.run([panne_bin, "apikey", "create", "bench"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        ingest = subprocess.Popen([panne_bin, "ingest", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL)  # fmt: skip
        procs.append(ingest)
        wait_up(f"http://127.0.0.1:{port}/healthz", ingest)
        procs.append(subprocess.Popen([panne_bin, "worker"], env=env, stdout=subprocess.DEVNULL))
        warm = run_wrk(port, 3, args.connections, script)
        out = run_wrk(port, args.seconds, args.connections, script)
        out["batch"] = batch_rate(port, key)
        out["memory"] = rss_mb(ingest.pid)
        ended = time.perf_counter()
        # Every 2xx of the warm-up, the timed run and the batches: the worker must store them.
        accepted = sum(r["requests"] - r["non2xx"] for r in (warm, out)) + 40 * 10_000
        out["accepted"] = accepted
        with psycopg.connect(admin.rsplit("/", 1)[0] + f"/{name}") as conn:
            while True:
                (n,) = conn.execute("SELECT count(*) FROM reports").fetchone() or (0,)
                if n >= accepted or time.perf_counter() - ended > 600:
                    break
                time.sleep(0.5)
        out["stored"] = float(n)
        out["drain_s"] = time.perf_counter() - ended
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        asyncio.run(_delete_stream(env["PANNE_NATS_STREAM"]))
    return out


async def _delete_stream(name: str) -> None:
    import nats

    nc = await nats.connect("nats://127.0.0.1:4222")
    try:
        await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--before", help="also measure the panne sources in this directory")
    ap.add_argument("--stream", action="store_true", help="also measure ingest → JetStream")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="panne-bench-"))
    script = tmp / "report.lua"
    script.write_text(LUA)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANNE_")}
    env.update({"PANNE_RATE_LIMIT": "false", "PANNE_LOG_LEVEL": "warning"})
    base_port = free_port()
    base = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "baseline_server.py"),
            str(base_port),
            str(tmp / "base.db"),
        ]
    )
    try:
        wait_up(f"http://127.0.0.1:{base_port}/", base)
        run_wrk(base_port, 3, args.connections, script)  # warm up
        ceiling = run_wrk(base_port, args.seconds, args.connections, script)
    finally:
        base.terminate()
        base.wait()

    results = {"panne": measure_panne(tmp, "panne", env, args, script)}
    if args.before:
        before_env = {**env, "PYTHONPATH": str(Path(args.before).resolve() / "src")}
        results["before"] = measure_panne(tmp, "before", before_env, args, script)
    single = results["panne"]
    batch = single["batch"]
    memory = single["memory"]

    print("| figure | value |\n|---|---|")
    print(
        f"| single reports/s, {args.connections} connections, {args.seconds} s | "
        f"{single['rps']:,.0f} |"
    )
    print(
        f"| single p50 / p99 latency | {single['p50_us'] / 1000:.1f} ms / "
        f"{single['p99_us'] / 1000:.1f} ms |"
    )
    print(f"| non-2xx / socket errors | {single['non2xx']:.0f} / {single['errors']:.0f} |")
    print(
        f"| bare Starlette + group commit ceiling, same run | {ceiling['rps']:,.0f} req/s, "
        f"p99 {ceiling['p99_us'] / 1000:.1f} ms |"
    )
    print(f"| panne / ceiling | {single['rps'] / ceiling['rps']:.2f} |")
    print(f"| batch reports/s (10,000 per request, 4 clients) | {batch:,.0f} |")
    print(f"| server peak memory (VmHWM) | {memory:.0f} MB |")
    if "before" in results:
        old = results["before"]
        print(f"\n--before {args.before}, same run:\n\n| figure | before | now |\n|---|---|---|")
        for label, k in (("single reports/s", "rps"), ("batch reports/s", "batch")):
            print(f"| {label} | {old[k]:,.0f} | {single[k]:,.0f} |")
        for label, k in (("single p50 ms", "p50_us"), ("single p99 ms", "p99_us")):
            print(f"| {label} | {old[k] / 1000:.1f} | {single[k] / 1000:.1f} |")
        print(f"| server peak memory MB | {old['memory']:.0f} | {memory:.0f} |")
    if args.stream:
        st = measure_stream(env, args, script)
        print("\n`panne ingest` → NATS JetStream, one `panne worker` → PostgreSQL, same run:\n")
        print("| figure | serve (SQLite) | ingest → JetStream |\n|---|---|---|")
        print(f"| single reports/s | {single['rps']:,.0f} | {st['rps']:,.0f} |")
        for label, k in (("single p50 ms", "p50_us"), ("single p99 ms", "p99_us")):
            print(f"| {label} | {single[k] / 1000:.1f} | {st[k] / 1000:.1f} |")
        print(f"| non-2xx / socket errors | {single['non2xx']:.0f} / {single['errors']:.0f} | "
              f"{st['non2xx']:.0f} / {st['errors']:.0f} |")  # fmt: skip
        print(f"| batch reports/s | {batch:,.0f} | {st['batch']:,.0f} |")
        print(f"| server peak memory MB | {memory:.0f} | {st['memory']:.0f} |")
        print(f"\nThe worker had stored {st['stored']:,.0f} of {st['accepted']:,.0f} accepted "
              f"reports {st['drain_s']:.1f} s after the load ended.")  # fmt: skip
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
