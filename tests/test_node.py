"""One node over a real SQLite file: it follows the catalog in the database while it runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.conftest import LiveServer, settings_for
from tests.probe_target import threaded_http_server
from tests.signals.vendor_servers import Answer, summary_with, threaded_vendor_server

from panne.catalog import default_catalog, parse
from panne.cli import main
from panne.clock import ManualClock, SystemClock
from panne.node import Node
from panne.signals.ingest import Client
from panne.signals.reports import ReportIn
from panne.store import catalog as catalog_store
from panne.store import probe_defs
from panne.store import vendor_status as vendor_store


def with_acme() -> dict[str, object]:
    doc = default_catalog().to_dict()
    doc["services"].append(
        {"slug": "acme", "name": "Acme", "url": "https://acme.example", "aliases": ["acme inc"]}
    )
    return doc


def test_a_running_node_picks_up_an_import(node: Node) -> None:
    assert node.check_catalog() is False  # nothing changed since start
    catalog_store.merge(node.engine, parse(with_acme()))
    assert "acme" not in node.catalog.services
    assert node.check_catalog() is True
    assert "acme" in node.catalog.services and node.check_catalog() is False
    report = node.ingestor.prepare(
        ReportIn(service="acme", problem="login"), Client(None, ""), "web"
    )
    assert report.service_id == node.catalog.services["acme"].id
    assert "acme" in node.watcher.slugs  # the detector has a series for it, and ticks on
    node.detect_once()
    catalog_store.merge(node.engine, parse(with_acme()))  # the same file again
    assert node.check_catalog() is False


def test_a_server_serves_what_panne_catalog_import_added(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'panne.db'}"
    node = Node(settings_for(db, catalog_reload_seconds=0.1), clock=ManualClock(1_709_650_800.0))
    with LiveServer(node) as srv:
        assert httpx.get(f"{srv.url}/api/v1/services/acme").status_code == 404
        (tmp_path / "cat.json").write_text(json.dumps(with_acme()))
        done = subprocess.run(
            [sys.executable, "-m", "panne", "catalog", "import", "cat.json", "--database", db],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 20
        while httpx.get(f"{srv.url}/api/v1/services/acme").status_code != 200:
            assert time.monotonic() < deadline, "the server never saw the import"
            time.sleep(0.05)
        r = httpx.post(f"{srv.url}/api/v1/reports", json={"service": "acme", "problem": "login"})
        assert r.status_code == 202, r.text


def test_a_running_node_runs_the_probes_and_polls_the_status_page_a_catalog_defines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'panne.db'}"
    settings = settings_for(
        db,
        probe_allow_private=True,
        vendor_allow_private=True,
        catalog_reload_seconds=0.1,
        probe_reload_seconds=3600,  # only the catalog's stamp can make it reload in time
    )
    doc = with_acme()
    services: list[dict[str, object]] = doc["services"]  # type: ignore[assignment]
    [acme] = [s for s in services if s["slug"] == "acme"]
    import_file = ["catalog", "import", str(tmp_path / "cat.json"), "--database", db]
    monkeypatch.setenv("PANNE_PROBE_ALLOW_PRIVATE", "true")  # as the node was started
    monkeypatch.setenv("PANNE_VENDOR_ALLOW_PRIVATE", "true")
    node = Node(settings, clock=SystemClock(), background=True)
    with threaded_http_server() as target, threaded_vendor_server() as page:
        page.answers["/api/v2/summary.json"] = Answer(
            200, summary_with(components={"Canvas": "operational"})
        )
        acme["probes"] = [  # "acme-site" runs 4.4 s into its 10 s interval: a short wait
            {"id": "acme-site", "kind": "http", "target": target.url, "interval_seconds": 10}
        ]
        acme["status_page"] = {"kind": "statuspage", "url": page.url("/"), "components": ["Canvas"]}
        (tmp_path / "cat.json").write_text(json.dumps(doc))
        try:
            node.start()
            assert main(import_file) == 0
            eventually(lambda: probe_defs.last_result(node.engine, "acme-site") is not None)
            last = probe_defs.last_result(node.engine, "acme-site")
            assert last is not None and last.ok and target.requests >= 1
            eventually(lambda: vendor_store.load_state(node.engine, "acme") is not None)
            state = vendor_store.load_state(node.engine, "acme")
            assert state is not None and state.state == "up"
            assert [p.id for p in node.catalog.services["acme"].probes] == ["acme-site"]

            del acme["probes"], acme["status_page"]  # the file is the catalog's word
            (tmp_path / "cat.json").write_text(json.dumps(doc))
            assert main(import_file) == 0
            eventually(lambda: not node.catalog.services["acme"].probes)
            assert probe_defs.list_probes(node.engine) == []
            assert vendor_store.load_sources(node.engine) == []
        finally:
            node.stop()


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.nats
def test_serve_with_a_stream_publishes_and_its_own_worker_stores(
    sqlite_url: str, nats_url: str, nats_stream: str
) -> None:
    """`panne serve` with nats_url: the reports it takes go through JetStream, and the node's
    worker thread stores and counts them, as separate workers would."""
    from sqlalchemy import func, select

    from panne.bus.jetstream import Publisher
    from panne.store.schema import counts, reports

    settings = settings_for(sqlite_url, nats_url=[nats_url], nats_stream=nats_stream,
                            detect_warmup_days=0.0)  # fmt: skip
    node = Node(settings, clock=SystemClock())
    assert isinstance(node.writer, Publisher)
    with LiveServer(node) as srv:
        for i in range(3):
            r = httpx.post(f"{srv.url}/api/v1/reports",
                           json={"service": "facebook", "problem": "login", "country": "TN"},
                           headers={"user-agent": f"ua {i}"})  # fmt: skip
            assert r.status_code == 202
        deadline = time.monotonic() + 15
        while True:
            with node.engine.connect() as conn:
                n = conn.execute(select(func.count()).select_from(reports)).scalar_one()
                total = conn.execute(select(func.sum(counts.c.count))).scalar()
            if n == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert (n, total) == (3, 3)


@pytest.mark.postgres
def test_two_processes_on_one_postgresql_count_a_person_once(pg_url: str) -> None:
    """`panne serve` and `panne web` on one database, no stream: a person's report to each,
    within the dedupe window, is stored twice and counted once."""
    from sqlalchemy import func, select

    from panne.node import Roles
    from panne.store.schema import counts, reports

    settings = settings_for(pg_url, detect_warmup_days=0.0)
    serve = Node(settings, clock=SystemClock(), background=False)
    web = Node(settings, clock=SystemClock(), background=False, roles=Roles(detect=False))
    report = {"service": "facebook", "problem": "login", "country": "TN"}
    with LiveServer(serve) as one, LiveServer(web) as other:
        for url, ua in ((one.url, "me"), (other.url, "me"), (other.url, "someone else")):
            r = httpx.post(f"{url}/api/v1/reports", json=report, headers={"user-agent": ua})
            assert r.status_code == 202, r.text
        with serve.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(reports)).scalar_one()
            total = conn.execute(select(func.sum(counts.c.count))).scalar()
    assert (n, total) == (3, 2)
