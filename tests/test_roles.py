"""The roles as separate processes, as a deployment runs them: PostgreSQL, NATS JetStream,
`panne ingest`, `panne worker`, `panne web` and two `panne detector`, real HTTP between."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.nats, pytest.mark.slow]


class Proc:
    """A panne process whose output lines arrive in a queue, read by a thread."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "panne", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def expect(self, text: str, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            if time.monotonic() >= deadline:
                return False
            try:
                self.seen.append(self.lines.get(timeout=0.1))
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    return False
        return True

    def log(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._reader.join(timeout=10)  # the output ends with the process
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code


@pytest.fixture
def deployment(
    tmp_path: Path, pg_url: str, nats_url: str, nats_stream: str
) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANNE_")}
    env.update(
        PANNE_DATABASE_URL=pg_url,
        PANNE_NATS_URL=nats_url,
        PANNE_NATS_STREAM=nats_stream,
        PANNE_LEADER_RETRY_SECONDS="0.5",
        PANNE_DETECT_WARMUP_DAYS="0",
        PANNE_LOG_LEVEL="warning",
    )
    yield env


def test_reports_flow_from_ingest_through_the_stream_to_the_pages_and_a_detector_fails_over(
    tmp_path: Path, deployment: dict[str, str]
) -> None:
    env = deployment
    ingest_port, web_port = free_port(), free_port()
    metrics = {"worker": free_port(), "first": free_port(), "second": free_port()}

    def scrape(role: str, name: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{metrics[role]}/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name))  # fmt: skip

    procs = [
        ingest := Proc(tmp_path, env, "ingest", "--port", str(ingest_port)),
        web := Proc(tmp_path, env, "web", "--port", str(web_port)),
        worker := Proc(tmp_path, env, "worker", "--metrics-port", str(metrics["worker"])),
        first := Proc(tmp_path, env, "detector", "--metrics-port", str(metrics["first"])),
        second := Proc(tmp_path, env, "detector", "--metrics-port", str(metrics["second"])),
    ]
    try:
        assert ingest.expect("serving on"), ingest.log()
        assert web.expect("serving on"), web.log()
        assert worker.expect("storing stream"), worker.log()
        ingest_url, web_url = f"http://127.0.0.1:{ingest_port}", f"http://127.0.0.1:{web_port}"

        # Reports taken by ingest (202: acked by JetStream), stored by the worker, read by web.
        for i, country in enumerate(("FR", "FR", "TN")):  # three people (user agents)
            report = {"service": "facebook", "problem": "login", "country": country}
            r = httpx.post(f"{ingest_url}/api/v1/reports", json=report,
                           headers={"user-agent": f"browser {i}"})  # fmt: skip
            assert r.status_code == 202, r.text
        report = {"service": "facebook", "problem": "website", "country": "US"}
        r = httpx.post(f"{web_url}/api/v1/reports", json=report)  # the pages' button posts here
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 20
        while True:
            body = httpx.get(f"{web_url}/api/v1/services/facebook/counts?by=country").json()
            if body["total"] == 4 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert body["total"] == 4, worker.log()
        by_country: dict[str, int] = {}
        for bucket in body["buckets"]:
            for code, n in bucket["country"].items():
                by_country[code] = by_country.get(code, 0) + n
        assert by_country == {"FR": 2, "TN": 1, "US": 1}
        assert scrape("worker", 'panne_worker_reports_total{outcome="stored"}') == 4
        assert scrape("worker", "panne_worker_stream_pending") == 0
        # The first person again, through the other process: stored, not counted a second time.
        report = {"service": "facebook", "problem": "website", "country": "FR"}
        r = httpx.post(f"{web_url}/api/v1/reports", json=report,
                       headers={"user-agent": "browser 0"})  # fmt: skip
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 20
        stored = 'panne_worker_reports_total{outcome="stored"}'
        while scrape("worker", stored) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert scrape("worker", "panne_worker_reports_uncounted_total") == 1
        body = httpx.get(f"{web_url}/api/v1/services/facebook/counts?by=country").json()
        assert body["total"] == 4
        # Ingest serves the report endpoints only; web serves the pages.
        assert httpx.get(f"{ingest_url}/").status_code == 404
        assert httpx.get(f"{web_url}/").status_code == 200

        # One detector is active, the other stands by; killed, the active one is replaced.
        assert first.expect("standing by"), first.log()
        assert second.expect("standing by"), second.log()
        deadline = time.monotonic() + 60
        while not any("active" in line for p in (first, second) for line in p.seen):
            assert time.monotonic() < deadline, first.log() + second.log()
            first.expect("active", timeout=0.2)
            second.expect("active", timeout=0.2)
        active, standby = (first, second) if first.expect("active", 0) else (second, first)
        assert not standby.expect("active", timeout=2)  # never two at once
        roles = {"first": first, "second": second}
        name_of = {p: n for n, p in roles.items()}
        assert scrape(name_of[active], "panne_detector_active") == 1
        assert scrape(name_of[standby], "panne_detector_active") == 0
        active.proc.kill()
        active.proc.wait(timeout=10)
        assert standby.expect("active", timeout=30), standby.log()
        assert scrape(name_of[standby], "panne_detector_active") == 1
    finally:
        codes = {p.args[0] + str(i): p.stop() for i, p in enumerate(procs)}
    # SIGTERM ends every role cleanly, with status 0 (the killed detector aside).
    assert codes["ingest0"] == codes["web1"] == 0, codes
    assert codes["worker2"] == 0 and sorted((codes["detector3"], codes["detector4"])) == [
        -signal.SIGKILL,
        0,
    ], codes
