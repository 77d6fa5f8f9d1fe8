"""``GET /metrics`` over real HTTP: what was sent is what is counted, reason by reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from panne.clock import ManualClock
from panne.metrics import REASONS, SOURCES, reason_for
from panne.store import incidents as incident_store
from panne.store import keys

Server = Any
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(srv: Server) -> Samples:
    r = httpx.get(f"{srv.url}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def post(srv: Server, path: str = "/api/v1/reports", **kw: Any) -> int:
    return httpx.post(f"{srv.url}{path}", **kw).status_code


def record(iid: str, kind: str, status: str) -> incident_store.IncidentRecord:
    return incident_store.IncidentRecord(
        id=iid,
        kind=kind,
        service="facebook" if kind == "service" else None,
        group="meta",
        parent_id=None,
        status=status,
        severity="major",
        title="Facebook",
        started_at=1_709_650_000,
        detected_at=1_709_650_100,
        ended_at=None if status == "open" else 1_709_650_900,
        peak_per_minute=120.0,
        peak_ratio=30.0,
        countries=[("US", 80)],
        problems={"login": 100.0},
        members=[],
    )


@pytest.fixture
def srv(make_server: Callable[..., Server]) -> Server:
    return make_server(reporter_burst=2, reporter_rate_per_minute=1, batch_max_reports=5)


def test_reports_are_counted_by_source_and_refusals_by_reason(srv: Server) -> None:
    fb = {"service": "facebook", "problem": "login", "country": "US"}
    a, b = {"user-agent": "a"}, {"user-agent": "b"}
    # Counted, the same person again (deduplicated), then over the burst of two.
    assert [post(srv, json=fb, headers=a) for _ in range(3)] == [202, 202, 429]
    assert post(srv, json={**fb, "service": "whatsapp", "problem": "messaging"}, headers=b) == 202
    refused = [
        post(srv, content=b"{", headers={**b, "content-type": "application/json"}),
        post(srv, json={"service": "facebook"}, headers=b),
        post(srv, json={**fb, "service": "nope"}, headers=b),
        post(srv, json={**fb, "problem": "atm"}, headers=b),
        post(srv, json={**fb, "country": "QQ"}, headers=b),
        post(srv, json={**fb, "country": "QQ"}, headers=b),
        post(srv, content=b"hello", headers={**b, "content-type": "text/plain"}),
        post(srv, content=b"x" * 20_000, headers={**b, "content-type": "application/json"}),
    ]
    assert refused == [400, 422, 422, 422, 422, 422, 415, 413]

    batch = "/api/v1/reports/batch"
    _, plain = keys.create(srv.node.engine, "test", trusted=False, now_ms=0)
    auth = {"Authorization": f"Bearer {plain}"}
    assert post(srv, batch, json=[fb, fb, {**fb, "problem": "app"}], headers=auth) == 202
    assert post(srv, batch, json=[fb]) == 401
    assert post(srv, batch, json=[fb], headers={"Authorization": "Bearer pk_wrong"}) == 403
    assert post(srv, batch, json=[fb] * 6, headers=auth) == 413
    assert post(srv, batch, json=[{**fb, "timestamp": 1_709_650_000}], headers=auth) == 403

    m = scrape(srv)
    assert value(m, "panne_reports_accepted_total", source="api") == 3
    assert value(m, "panne_reports_accepted_total", source="batch") == 3
    # api: facebook once (its repeat is deduplicated) and whatsapp; batch: no reporter ids given
    assert value(m, "panne_reports_counted_total") == 5
    expected = {
        "rate_limited": 1,
        "malformed_json": 1,
        "invalid": 1,
        "unknown_service": 1,
        "unknown_problem": 1,
        "bad_country": 2,
        "not_json": 1,
        "too_large": 2,
        "unauthorized": 1,
        "forbidden": 2,
    }
    got = {r: value(m, "panne_reports_rejected_total", reason=r) for r in REASONS}
    assert got == {r: expected.get(r, 0) for r in REASONS}
    assert value(m, "panne_ingest_seconds_count", source="api") == 3
    assert value(m, "panne_ingest_seconds_count", source="batch") == 1
    assert value(m, "panne_ingest_seconds_bucket", source="api", le="+Inf") == 3
    assert 0 < value(m, "panne_ingest_seconds_sum", source="api") < 10


def test_open_incidents_are_read_from_the_store_at_scrape_time(srv: Server) -> None:
    before = scrape(srv)
    assert value(before, "panne_incidents_open", kind="service") == 0
    assert value(before, "panne_incidents_open", kind="group") == 0
    with srv.node.engine.begin() as conn:
        incident_store.save(conn, record("i-open", "service", "open"))
        incident_store.save(conn, record("i-gone", "service", "resolved"))
        incident_store.save(conn, record("g-open", "group", "open"))
    after = scrape(srv)
    assert value(after, "panne_incidents_open", kind="service") == 1
    assert value(after, "panne_incidents_open", kind="group") == 1


def test_detector_ticks_are_counted_and_lag_follows_the_last_judged_minute(
    srv: Server, clock: ManualClock
) -> None:
    assert ("panne_detector_lag_seconds", ()) not in scrape(srv)  # nothing judged yet
    clock.advance(130)  # two minutes end: 15:00 and 15:01 are judged at 15:02:10
    srv.node.detect_once()
    m = scrape(srv)
    assert value(m, "panne_detector_ticks_total") == 1
    assert value(m, "panne_detector_tick_seconds_count") == 1
    assert value(m, "panne_detector_lag_seconds") == 70


def test_a_healthy_detectors_lag_runs_from_a_minute_to_two_and_a_tick(
    srv: Server, clock: ManualClock
) -> None:
    """A minute is judged at the first tick after it ends, so just before the tick that judges
    it the lag is nearly two minutes plus a tick: what docs/api.md gives as healthy."""
    interval = srv.node.settings.detect_interval_seconds
    clock.advance(135)  # ticks that do not fall on a minute's start, as in real life
    seen = []
    for _ in range(int(240 // interval)):
        srv.node.detect_once()
        seen.append(value(scrape(srv), "panne_detector_lag_seconds"))  # just after a tick
        clock.advance(interval - 0.5)
        seen.append(value(scrape(srv), "panne_detector_lag_seconds"))  # just before the next
        clock.advance(0.5)
    assert 60 <= min(seen) <= 60 + interval
    assert 120 < max(seen) <= 120 + interval


def test_each_node_has_its_own_registry(make_server: Callable[..., Server]) -> None:
    one, two = make_server(), make_server()
    assert post(one, json={"service": "facebook", "problem": "login"}) == 202
    assert value(scrape(one), "panne_reports_accepted_total", source="api") == 1
    assert value(scrape(two), "panne_reports_accepted_total", source="api") == 0


def test_metrics_stay_out_of_the_openapi_schema(srv: Server) -> None:
    paths = httpx.get(f"{srv.url}/api/openapi.json").json()["paths"]
    assert "/metrics" not in paths


@pytest.mark.parametrize(
    ("status", "title", "reason"),
    [
        (422, "Unknown country", "bad_country"),
        (400, None, "bad_request"),
        (413, None, "too_large"),
        (500, None, "error"),
        (418, "Teapot", "other"),
    ],
)
def test_reasons_come_from_the_title_then_the_status(
    status: int, title: str | None, reason: str
) -> None:
    assert reason_for(status, title) == reason


def test_every_metric_and_reason_is_in_the_api_docs(srv: Server) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    scraped = text_string_to_metric_families(httpx.get(f"{srv.url}/metrics").text)
    names = {f.name for f in scraped if not f.name.endswith("_created")}
    assert len(names) >= 10  # every family, each checked below (the lag: once judged)
    for name in [*names, "panne_detector_lag_seconds"]:
        assert f"`{name}" in text, name
    for reason in REASONS:
        assert f"`{reason}`" in text, reason
    [accepted] = [r for r in text.splitlines() if r.startswith("| `panne_reports_accepted_total")]
    for source in SOURCES:
        assert f"`{source}`" in accepted, source
    [lag] = [r for r in text.splitlines() if r.startswith("| `panne_detector_lag_seconds`")]
    assert "120 s + `detect_interval_seconds`" in lag
