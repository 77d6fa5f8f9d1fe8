"""`panne simulate` against a running server: real HTTP on loopback, a real SQLite file."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import LiveServer, settings_for

from panne.clock import iso_utc
from panne.node import Node
from panne.simulate.model import SimReport
from panne.simulate.outages import meta_2024
from panne.simulate.run import (
    SimulateError,
    _server,
    lead_over_real_time,
    outages_within,
)
from panne.store import keys
from panne.store.schema import reports


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """A server on the real clock, as `panne serve` runs, and a trusted key for it."""
    node = Node(settings_for(f"sqlite:///{tmp_path / 'srv.db'}"), background=False)
    with LiveServer(node) as srv:
        _, key = keys.create(node.engine, "sim", trusted=True, now_ms=0)
        yield srv, key


def simulate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANNE_")}
    return subprocess.run([sys.executable, "-m", "panne", "simulate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def stored(srv: LiveServer) -> int:
    with srv.node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reports)).scalar_one())


def test_the_default_run_against_a_server_is_accepted(
    live: tuple[LiveServer, str], tmp_path: Path
) -> None:
    srv, key = live
    for scenario in ("random", "meta-2024"):
        out = simulate("--server", srv.url, "--api-key", key, "--minutes", "30",
                       "--scale", "0.05", "--scenario", scenario, cwd=tmp_path)  # fmt: skip
        assert out.returncode == 0, out.stderr
    assert stored(srv) > 100
    with srv.node.engine.connect() as conn:
        newest = conn.execute(select(func.max(reports.c.occurred_ms))).scalar_one()
    assert newest / 1000 <= time.time()  # nothing from the future


def test_a_start_that_runs_ahead_of_the_clock_is_refused_before_sending(
    live: tuple[LiveServer, str], tmp_path: Path
) -> None:
    srv, key = live
    now = time.time()
    for extra in (
        ["--start", iso_utc(now)],
        ["--start", iso_utc(now - 600), "--speed", "2"],  # catches up with the clock in 10 min
    ):
        out = simulate("--server", srv.url, "--api-key", key, "--minutes", "30", *extra,
                       cwd=tmp_path)  # fmt: skip
        assert out.returncode == 1
        (line,) = out.stderr.strip().splitlines()
        assert "in the future" in line and "start at" in line, line
    assert stored(srv) == 0


def test_lead_over_real_time() -> None:
    assert lead_over_real_time(0, 1800, 0, 1800) == 0  # ends now
    assert lead_over_real_time(0, 1800, 0, 1000) == 800
    assert lead_over_real_time(1000, 2800, 1, 1000) == 0  # at real speed from now
    assert lead_over_real_time(400, 2200, 2, 1000) == 300  # twice as fast from 10 min ago
    assert lead_over_real_time(0, 1800, 0.5, 1000) < 0  # slower than the clock, from the past


def test_a_server_that_goes_away_is_a_simulate_error(live: tuple[LiveServer, str]) -> None:
    srv, key = live
    target = _server(srv.url, key)
    report = SimReport(time.time() - 60, "facebook", "FR", "login")
    target.send([report])
    srv.__exit__()
    with pytest.raises(SimulateError, match=f"cannot reach {srv.url}"):
        target.send([report])
    target.close()


class NotPanne(http.server.BaseHTTPRequestHandler):
    """A web server that is not panne: HTML for the catalog, or a proxy's 502 page."""

    def do_GET(self) -> None:
        if self.server.catalog_ok:  # type: ignore[attr-defined]
            catalog = b'[{"slug": "facebook", "group": "meta", "problems": [{"slug": "login"}]}]'
            self._answer(200, catalog, "application/json")
        else:
            self._answer(200, b"<html>hello</html>", "text/html")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self._answer(502, b"<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>", "text/html")

    def _answer(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_panne() -> Iterator[http.server.ThreadingHTTPServer]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotPanne)
    httpd.catalog_ok = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_answers_that_are_not_json_are_a_simulate_error(
    not_panne: http.server.ThreadingHTTPServer,
) -> None:
    url = f"http://127.0.0.1:{not_panne.server_address[1]}"
    with pytest.raises(SimulateError, match="is it a panne server"):
        _server(url, "key")
    not_panne.catalog_ok = True  # type: ignore[attr-defined]
    target = _server(url, "key")
    with pytest.raises(SimulateError, match=r"refused a batch \(502\): <html><body> <h1>502"):
        target.send([SimReport(time.time() - 60, "facebook", "FR", "login")])
    target.close()


def test_outages_within_drop_what_starts_after_the_end_and_cut_what_runs_past_it() -> None:
    start = 1_709_652_300.0
    outages = meta_2024(start)[:1]  # 130 minutes from start
    assert outages_within(outages, start) == []  # starts at the end: not in the output
    [(cut, was_cut)] = outages_within(outages, start + 600)
    assert (cut.start, cut.end, was_cut) == (start, start + 600, True)
    [(whole, was_cut)] = outages_within(outages, start + 86_400)
    assert whole == outages[0] and not was_cut
