"""Probes through the API of a real server: definitions (admin), each service's probes (public),
and the metrics, against a loopback target that fails on demand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import LiveServer
from tests.probe_target import threaded_http_server
from tests.signals.probe_servers import HttpServer

from panne.catalog import Catalog, default_catalog, parse
from panne.clock import ManualClock
from panne.store import catalog as catalog_store
from panne.store import keys

Make = Any  # the make_server fixture's factory
ADMIN = "/api/v1/admin/probes"


def client(srv: LiveServer, *, trusted: bool = True) -> httpx.Client:
    _, plain = keys.create(srv.node.engine, "admin", trusted=trusted, now_ms=0)
    return httpx.Client(
        base_url=srv.url, headers={"Authorization": f"Bearer {plain}"}, trust_env=False
    )


@pytest.fixture
def target() -> Iterator[HttpServer]:
    with threaded_http_server() as srv:
        yield srv


def probe_body(server: HttpServer, **kw: object) -> dict[str, object]:
    return {
        "id": "facebook-home",
        "service": "facebook",
        "kind": "http",
        "target": server.url,
        "timeout_ms": 3000,
        **kw,
    }


def service_probes(srv: LiveServer) -> list[dict[str, Any]]:
    resp = httpx.get(f"{srv.url}/api/v1/services/facebook/probes", trust_env=False)
    assert resp.status_code == 200, resp.text
    probes: list[dict[str, Any]] = resp.json()["probes"]
    return probes


def run_twice(srv: LiveServer, clock: ManualClock) -> None:
    for _ in range(2):
        clock.advance(60)
        srv.node.probe_once()


def test_admin_probe_routes_need_a_trusted_key(make_server: Make, target: HttpServer) -> None:
    srv = make_server(probe_allow_private=True)
    none = httpx.post(srv.url + ADMIN, json=probe_body(target), trust_env=False)
    assert none.status_code == 401
    assert none.headers["content-type"] == "application/problem+json"
    with client(srv, trusted=False) as c:
        assert c.post(ADMIN, json=probe_body(target)).status_code == 403
        assert c.get(ADMIN).status_code == 403
    with client(srv) as c:
        assert c.get(ADMIN).json() == {"probes": []}


@pytest.mark.parametrize(
    ("change", "field", "detail"),
    [
        ({"kind": "ftp"}, "kind", "kind: must be one of http, tcp, dns, tls"),
        ({"target": "not a url"}, "target", "target: must be an http:// or https:// URL"),
        ({"colour": "red"}, "colour", "unknown field 'colour'"),
        ({"service": "nope"}, "service", "service: no service 'nope' in the catalog"),
        ({"timeout_ms": 120_000}, "timeout_ms", "timeout_ms: must not exceed the interval"),
        # Each of these answered 500 (a string method on a number, a bad port or IPv6 literal).
        ({"target": 5}, "target", "target: must be a string (got 5)"),
        ({"kind": "tcp", "target": 5}, "target", "target: must be a string"),
        ({"kind": "dns", "target": ["x"]}, "target", "target: must be a string (got ['x'])"),
        ({"json_field": 5}, "json_field", "json_field: must be a string"),
        (
            {"kind": "dns", "target": "example.org", "resolver": 5},
            "resolver",
            "resolver: must be a string",
        ),
        ({"target": "http://[::1/"}, "target", "target: is not a valid URL"),
        ({"target": "http://example.com:99999/"}, "target", "target: has no valid port"),
        ({"target": f"http://{'a' * 64}.example/"}, "target", "is not a valid host name"),
        ({"kind": "tcp", "target": f"{'a' * 64}.example:80"}, "target", "not a valid host"),
        ({"expect_status": None}, "expect_status", "expect_status must be like 200"),
        ({"record_type": ["A"]}, "record_type", "record_type: must be one of A, AAAA, CNAME"),
        # Accepted before, then failing every run as `other` (AttributeError).
        ({"keyword": 5}, "keyword", "keyword: must be a string"),
        # Accepted before: a load generator, and a probe that can only time out.
        (
            {"interval_seconds": 0.01, "timeout_ms": 1},
            "interval_seconds",
            "interval_seconds: must be at least 10 (got 0.01)",
        ),
        ({"interval_seconds": 5, "timeout_ms": 1000}, "interval_seconds", "at least 10"),
        ({"timeout_ms": 50}, "timeout_ms", "timeout_ms: must be from 100 to 60000 (got 50)"),
        ({"timeout_ms": 90_000, "interval_seconds": 300}, "timeout_ms", "from 100 to 60000"),
        # Accepted before, then failing every run as a network error that looked like an outage.
        ({"target": "http://exa mple.com/"}, "target", "target: contains a space"),
        ({"target": "https://a.example/\t"}, "target", "control character (U+0009)"),
        ({"target": "https://a.example/\x00"}, "target", "control character (U+0000)"),
    ],
)
def test_a_bad_definition_is_422_naming_the_field(
    make_server: Make,
    target: HttpServer,
    change: dict[str, object],
    field: str,
    detail: str,
) -> None:
    srv = make_server(probe_allow_private=True)
    with client(srv) as c:
        resp = c.post(ADMIN, json=probe_body(target, **change))
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"] == "application/problem+json"
        assert detail in resp.json()["detail"]
        assert resp.json()["field"] == field
        assert c.get(ADMIN).json() == {"probes": []}


def test_a_bad_change_is_422_naming_the_field_and_leaves_the_probe_alone(
    make_server: Make, target: HttpServer
) -> None:
    srv = make_server(probe_allow_private=True)
    with client(srv) as c:
        assert c.post(ADMIN, json=probe_body(target)).status_code == 201
        for change, field in (
            ({"target": 5}, "target"),
            ({"keyword": ["x"]}, "keyword"),
            ({"interval_seconds": 5}, "interval_seconds"),
        ):
            resp = c.patch(f"{ADMIN}/facebook-home", json=change)
            assert resp.status_code == 422, resp.text
            assert resp.headers["content-type"] == "application/problem+json"
            assert resp.json()["field"] == field
        (kept,) = c.get(ADMIN).json()["probes"]
        assert (kept["target"], kept["keyword"], kept["interval_seconds"]) == (
            target.url,
            None,
            60.0,
        )


def test_a_private_target_is_refused_unless_allowed(make_server: Make, target: HttpServer) -> None:
    srv = make_server()  # probe_allow_private off, as in production
    with client(srv) as c:
        for body in (
            probe_body(target),
            probe_body(target, kind="tcp", target="10.1.2.3:5432"),
            probe_body(target, kind="dns", target="example.org", resolver="169.254.169.254"),
        ):
            resp = c.post(ADMIN, json=body)
            assert resp.status_code == 422, resp.text
            detail = resp.json()["detail"]
            assert detail.startswith("target: ") and "unless probe_allow_private" in detail
        public = c.post(ADMIN, json=probe_body(target, target="https://192.0.0.9:8443/health"))
        assert public.status_code == 201, public.text  # 192.0.0.9/32 is global (IANA)


def test_probe_lifecycle_down_up_paused_deleted(
    make_server: Make, target: HttpServer, clock: ManualClock
) -> None:
    srv = make_server(probe_allow_private=True)
    with client(srv) as c:
        made = c.post(ADMIN, json=probe_body(target, expect_status="200-299"))
        assert made.status_code == 201, made.text
        assert made.json()["paused"] is False and made.json()["state"] == "unknown"
        assert made.json()["expect_status"] == [200, 299]
        assert c.post(ADMIN, json=probe_body(target)).status_code == 409

        (fresh,) = service_probes(srv)
        assert fresh["state"] == "unknown" and fresh["last_result"] is None
        assert len(fresh["uptime"]) == 30 and fresh["uptime"][-1]["checks"] == 0

        target.mode = "503"
        run_twice(srv, clock)
        (down,) = service_probes(srv)
        assert (down["kind"], down["target"], down["state"]) == ("http", target.url, "down")
        last = down["last_result"]
        assert last["ok"] is False and last["error_class"] == "http_5xx"
        assert last["detail"] == "status 503, expected 200-299" and last["latency_ms"] > 0
        today = down["uptime"][-1]
        assert today["day"] == "2024-03-05" and today["checks"] == 2
        assert today["uptime_percent"] < 100

        metrics = httpx.get(f"{srv.url}/metrics", trust_env=False).text
        assert 'panne_probe_runs_total{kind="http",outcome="http_5xx"} 2.0' in metrics
        assert 'panne_probe_latency_seconds_count{kind="http"} 2.0' in metrics
        assert "panne_probes_down 1.0" in metrics

        target.mode = "ok"
        run_twice(srv, clock)
        (up,) = service_probes(srv)
        assert up["state"] == "up" and up["last_result"]["error_class"] is None
        assert up["uptime"][-1] == {"day": "2024-03-05", "uptime_percent": 50.0, "checks": 4}
        assert "panne_probes_down 0.0" in httpx.get(f"{srv.url}/metrics", trust_env=False).text

        paused = c.patch(f"{ADMIN}/facebook-home", json={"paused": True})
        assert paused.status_code == 200 and paused.json()["paused"] is True
        requests = target.requests
        clock.advance(60)
        assert srv.node.probe_once() == []
        assert target.requests == requests
        assert service_probes(srv)[0]["paused"] is True
        assert c.patch(f"{ADMIN}/facebook-home", json={"paused": "yes"}).status_code == 422
        assert c.patch(f"{ADMIN}/facebook-home", json={"id": "other"}).status_code == 422
        assert c.patch(f"{ADMIN}/nope", json={"paused": True}).status_code == 404

        resumed = c.patch(
            f"{ADMIN}/facebook-home", json={"paused": False, "keyword": "operational"}
        )
        assert resumed.json()["paused"] is False and resumed.json()["keyword"] == "operational"
        assert [p["id"] for p in c.get(ADMIN).json()["probes"]] == ["facebook-home"]

        assert c.delete(f"{ADMIN}/facebook-home").status_code == 204
        assert c.delete(f"{ADMIN}/facebook-home").status_code == 404
        assert service_probes(srv) == []
        assert srv.node.probe_once() == []


def test_the_public_view_hides_credentials_and_404s_unknown_services(
    make_server: Make, target: HttpServer
) -> None:
    srv = make_server(probe_allow_private=True)
    with client(srv) as c:
        secret = target.url.replace("http://", "http://user:s3cret@")
        assert c.post(ADMIN, json=probe_body(target, target=secret)).status_code == 201
        assert c.get(ADMIN).json()["probes"][0]["target"] == secret  # admins see it whole
    (shown,) = service_probes(srv)
    assert shown["target"] == target.url
    missing = httpx.get(f"{srv.url}/api/v1/services/nope/probes", trust_env=False)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def with_probes(*probes: dict[str, object], **service: object) -> Catalog:
    """The shipped catalog, Facebook defining ``probes`` (and whatever else is given)."""
    doc = default_catalog().to_dict()
    [fb] = [s for s in doc["services"] if s["slug"] == "facebook"]
    fb.update(probes=list(probes), **service)
    return parse(doc)


def test_catalog_probes_are_listed_run_and_paused_here_but_changed_in_the_file(
    make_server: Make, target: HttpServer, clock: ManualClock
) -> None:
    srv = make_server(probe_allow_private=True)
    home = {"id": "facebook-home", "kind": "http", "target": target.url, "timeout_ms": 3000}
    catalog_store.import_catalog(srv.node.engine, with_probes(home), now=clock.now())
    with client(srv) as c:
        [shown] = c.get(ADMIN).json()["probes"]
        assert shown["origin"] == "catalog"
        assert (shown["service"], shown["target"], shown["paused"]) == (
            "facebook",
            target.url,
            False,
        )
        run_twice(srv, clock)
        assert service_probes(srv)[0]["state"] == "up"

        changed = c.patch(f"{ADMIN}/facebook-home", json={"timeout_ms": 5000})
        assert changed.status_code == 409, changed.text
        assert changed.headers["content-type"] == "application/problem+json"
        assert "defined by the catalog" in changed.json()["detail"]
        assert c.delete(f"{ADMIN}/facebook-home").status_code == 409
        assert c.post(ADMIN, json=probe_body(target)).status_code == 409  # the id exists
        paused = c.patch(f"{ADMIN}/facebook-home", json={"paused": True})
        assert paused.status_code == 200 and paused.json()["paused"] is True
        [kept] = c.get(ADMIN).json()["probes"]
        assert (kept["timeout_ms"], kept["origin"]) == (3000, "catalog")

        # An operator's own probe says so, and stays the operator's to change.
        mine = c.post(ADMIN, json=probe_body(target, id="facebook-mine"))
        assert mine.status_code == 201 and mine.json()["origin"] == "admin"
        assert c.patch(f"{ADMIN}/facebook-mine", json={"timeout_ms": 5000}).status_code == 200

        # Re-imported without it, the catalog's probe goes; the operator's stays.
        catalog_store.import_catalog(srv.node.engine, with_probes(), now=clock.now())
        assert [p["id"] for p in c.get(ADMIN).json()["probes"]] == ["facebook-mine"]
