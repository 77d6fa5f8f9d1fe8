"""Evidence gathered from the real store (SQLite and PostgreSQL) and served by the incident API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import httpx
from sqlalchemy import Engine
from tests.conftest import LiveServer
from tests.web import incident_rows
from tests.web.incident_rows import T0

from panne.clock import ManualClock
from panne.fusion_store import evidence_for, evidence_json, incident_services, probe_incident_cause
from panne.node import Node
from panne.signals.probes import ErrorClass, ProbeResult, ProbeSpec
from panne.signals.vendor_status import VendorIncident, VendorSource, VendorState
from panne.store import probe_defs
from panne.store import probes as probe_store
from panne.store import vendor_status as vendor_store
from panne.store.incidents import IncidentRecord

NOW = T0 + 1200  # twenty minutes into the outage


def meta_outage_signals(engine: Engine, *, vendor: bool = True) -> None:
    """Facebook's DNS probe and web probe failing from 15:08 (the web one by timeout, as it
    would when the name no longer resolves), Instagram's probe fine, and Meta's page down."""
    specs = [
        ProbeSpec("fb-dns", "facebook", "dns", "facebook.com"),
        ProbeSpec("fb-web", "facebook", "http", "https://www.facebook.com/"),
        ProbeSpec("ig-web", "instagram", "http", "https://www.instagram.com/"),
    ]
    probe_store.upsert_specs(engine, specs, now=T0 - 3600)
    recorder = probe_store.ProbeRecorder(engine, specs)
    results: list[ProbeResult] = []
    for at in range(T0 - 1800, NOW, 60):
        bad = at >= T0 - 120
        failing: tuple[tuple[str, ErrorClass], ...] = (
            ("fb-dns", "dns_failure"),
            ("fb-web", "timeout"),
        )
        for pid, error in failing:
            err = error if bad else None
            results.append(ProbeResult(pid, at, not bad, 20.0, err, "NXDOMAIN" if bad else ""))
        results.append(ProbeResult("ig-web", at, True, 30.0))
    recorder(results)
    if vendor:
        vendor_store.upsert_source(
            engine, VendorSource("facebook", "statuspage", "https://metastatus.com"), now=T0
        )
        incident = VendorIncident("Login issues", "investigating", "critical", "", T0 + 600, "")
        vendor_store.record(
            engine,
            VendorState("facebook", "down", "Major outage", (incident,), T0 + 600),
            now=T0 + 600,
            etag=None,
            last_modified=None,
            failures=0,
            next_poll_at=T0 + 720,
        )


def facebook_incident() -> IncidentRecord:
    return IncidentRecord(
        "inc-1", "service", "facebook", "meta", None, "open", "major", "Facebook", T0, T0 + 180,
        None, 120.0, 8.0, [("US", 600), ("GB", 250)], {"login": 76.0}, [],
    )  # fmt: skip


def test_evidence_reads_probes_and_vendor_of_the_incident_window(engine: Engine) -> None:
    meta_outage_signals(engine)
    evidence = evidence_for(engine, facebook_incident(), NOW)
    assert (evidence.start, evidence.end) == (T0 - 600, NOW)
    by_id = {p.probe_id: p for p in evidence.probes}
    assert set(by_id) == {"fb-dns", "fb-web"}  # Instagram's probe is another service's
    dns = by_id["fb-dns"]
    assert dns.state == "down" and dns.failures == {"dns_failure": 22}
    assert dns.checks == 30 and dns.first_failure_at == T0 - 120
    assert dns.down_seconds == NOW - (T0 - 120)
    assert (dns.last_ok, dns.last_error) == (False, "dns_failure")
    assert evidence.vendor is not None and evidence.vendor.incidents == ("Login issues",)
    assert evidence.mentions is None
    fusion = evidence.fuse()
    assert fusion.confidence == "high"
    assert fusion.signals == ["reports", "probes", "vendor"]
    assert fusion.cause == "DNS resolution fails for facebook.com from this node"


def test_a_resolved_incident_keeps_the_evidence_of_its_window(engine: Engine) -> None:
    meta_outage_signals(engine, vendor=False)
    rec = facebook_incident()
    earlier = replace(rec, started_at=T0 - 1500, ended_at=T0 - 900)
    evidence = evidence_for(engine, earlier, NOW)
    assert all(not p.failing for p in evidence.probes)
    assert evidence.vendor is None
    assert evidence.fuse().confidence == "medium"  # strong reports alone


def test_a_stale_vendor_page_is_no_evidence(engine: Engine) -> None:
    vendor_store.upsert_source(
        engine, VendorSource("facebook", "statuspage", "https://metastatus.com"), now=T0
    )
    vendor_store.record(
        engine,
        VendorState("facebook", "down", "Major outage", (), T0 - 7200, stale=True, error="timeout"),
        now=T0 + 60,
        etag=None,
        last_modified=None,
        failures=3,
        next_poll_at=T0 + 600,
    )
    fusion = evidence_for(engine, facebook_incident(), NOW).fuse()
    assert fusion.signals == ["reports"] and fusion.cause is None


def test_a_group_incident_gathers_its_members(node: Node) -> None:
    rec = incident_rows.store(node, "grp", kind="group", members=["facebook", "instagram"])
    assert incident_services(rec) == ["facebook", "instagram"]
    meta_outage_signals(node.engine)
    evidence = evidence_for(node.engine, rec, NOW)
    assert {p.probe_id for p in evidence.probes} == {"fb-dns", "fb-web", "ig-web"}
    assert evidence.vendor is not None and evidence.vendor.name == "Meta"


def test_the_incident_api_carries_the_evidence(
    make_server: Callable[..., LiveServer], clock: ManualClock
) -> None:
    srv = make_server(rate_limit=False)
    meta_outage_signals(srv.node.engine)
    incident_rows.store(srv.node, "fb-1")
    clock.set(NOW)
    body = httpx.get(f"{srv.url}/api/v1/incidents/fb-1").json()
    evidence = body["evidence"]
    assert evidence["confidence"] == "high"
    assert evidence["signals"] == ["reports", "probes", "vendor"]
    assert evidence["cause"] == "DNS resolution fails for facebook.com from this node"
    assert evidence["cause_fr"] == "La résolution DNS de facebook.com échoue depuis ce nœud"
    dns = next(p for p in evidence["probes"] if p["id"] == "fb-dns")
    assert (dns["state"], dns["failures"], dns["failing"]) == ("down", {"dns_failure": 22}, True)
    assert evidence["vendor"]["state"] == "down"
    assert evidence["vendor"]["incidents"] == ["Login issues"]
    assert evidence["reports"] == {"peak_per_minute": 120.0, "peak_ratio": 8.0, "countries": 3}
    assert evidence["mentions"] is None


SECRET_URL = "http://admin:s3cretpw@127.0.0.1:18151/health"


def failing_probe_with_credentials(engine: Engine) -> None:
    spec = ProbeSpec("fb-health", "facebook", "http", SECRET_URL)
    probe_store.upsert_specs(engine, [spec], now=T0 - 3600)
    recorder = probe_store.ProbeRecorder(engine, [spec])
    recorder([ProbeResult("fb-health", at, False, 5.0, "http_5xx", "status 503, expected 200-399")
              for at in range(T0 - 300, NOW, 60)])  # fmt: skip


def test_no_evidence_or_incident_json_carries_a_urls_password(
    make_server: Callable[..., LiveServer], clock: ManualClock
) -> None:
    srv = make_server(rate_limit=False)
    failing_probe_with_credentials(srv.node.engine)
    rec = incident_rows.store(srv.node, "fb-1")
    clock.set(NOW)
    evidence = evidence_for(srv.node.engine, rec, NOW)
    assert [p.target for p in evidence.probes] == ["http://127.0.0.1:18151/health"]
    assert evidence.fuse().cause == "127.0.0.1 answers HTTP 503"
    assert "s3cretpw" not in str(evidence_json(evidence))
    one = httpx.get(f"{srv.url}/api/v1/incidents/fb-1", trust_env=False)
    listed = httpx.get(f"{srv.url}/api/v1/incidents", trust_env=False)
    assert one.status_code == listed.status_code == 200
    assert one.json()["evidence"]["probes"][0]["target"] == "http://127.0.0.1:18151/health"
    for body in (one.text, listed.text):
        assert "s3cretpw" not in body and "admin:" not in body


def test_a_paused_probe_is_no_evidence(engine: Engine) -> None:
    """Paused while down: its state stays "down" with no event, which counted to the window's
    end, for ever, and raised every later incident's confidence."""
    meta_outage_signals(engine, vendor=False)
    assert probe_defs.set_paused(engine, "fb-dns", True, now=T0)
    assert probe_defs.set_paused(engine, "fb-web", True, now=T0)
    later = replace(facebook_incident(), started_at=NOW + 86_400, detected_at=NOW + 86_400)
    evidence = evidence_for(engine, later, NOW + 86_400 + 600)
    assert evidence.probes == []
    fusion = evidence.fuse()
    assert fusion.signals == ["reports"] and fusion.cause is None
    assert [p.probe_id for p in evidence_for(engine, facebook_incident(), NOW).probes] == []


def record_vendor(engine: Engine, state: VendorState, at: float) -> None:
    vendor_store.record(
        engine, state, now=at, etag=None, last_modified=None, failures=0, next_poll_at=at + 120
    )


def test_a_vendor_page_gone_stale_keeps_what_it_said_in_the_window(engine: Engine) -> None:
    """Read "down" before the window opened, still down as it began, then a failed poll."""
    vendor_store.upsert_source(
        engine, VendorSource("facebook", "statuspage", "https://metastatus.com"), now=T0 - 7200
    )
    incident = VendorIncident("Login issues", "investigating", "critical", "", T0 - 1800, "")
    down = VendorState("facebook", "down", "Major outage", (incident,), T0 - 1800)
    record_vendor(engine, down, T0 - 1800)
    record_vendor(engine, replace(down, stale=True, error="HTTP 500"), T0 + 300)
    evidence = evidence_for(engine, facebook_incident(), NOW)
    vendor = evidence.vendor
    assert vendor is not None and vendor.stale and vendor.state == "down"
    assert vendor.acknowledges and vendor.fetched_at == T0 - 1800
    fusion = evidence.fuse()
    assert fusion.signals == ["reports", "vendor"] and fusion.confidence == "high"
    assert fusion.cause is not None  # the store's bare engine has no catalog: named by its slug
    assert fusion.cause.endswith("'s status page reported a major outage: Login issues")
    shown = evidence_json(evidence)["vendor"]
    assert (shown["state"], shown["stale"], shown["acknowledges"]) == ("down", True, True)
    assert shown["worst_in_window"] == "down" and shown["fetched_at"] == "2024-03-05T14:40:00Z"
    # Up and readable before the window, unreadable all through it: nothing said in it.
    record_vendor(engine, replace(down, state="up", incidents=(), stale=False), NOW + 3600)
    record_vendor(engine, replace(down, state="up", stale=True), NOW + 3700)
    quiet = replace(facebook_incident(), started_at=NOW + 7200, detected_at=NOW + 7200)
    assert not evidence_for(engine, quiet, NOW + 7800).fuse().signals.count("vendor")


def test_a_probe_incident_names_its_cause_from_the_stored_results(engine: Engine) -> None:
    meta_outage_signals(engine, vendor=False)
    cause = probe_incident_cause(engine, "facebook", T0, NOW)
    assert cause == (
        "DNS resolution fails for facebook.com from this node",
        "La résolution DNS de facebook.com échoue depuis ce nœud",
    )
    assert probe_incident_cause(engine, "instagram", T0, NOW) is None
