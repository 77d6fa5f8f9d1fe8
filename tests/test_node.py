"""One node over a real SQLite file: it follows the catalog in the database while it runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.conftest import LiveServer, settings_for

from panne.catalog import default_catalog, parse
from panne.clock import ManualClock
from panne.node import Node
from panne.signals.ingest import Client
from panne.signals.reports import ReportIn
from panne.store import catalog as catalog_store


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
