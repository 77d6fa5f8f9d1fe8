"""Vendors' status through the API of a real server: sources (admin), each service's vendor
state (public) and the metrics, against a loopback page serving a recorded real Statuspage
summary that the test degrades on demand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import LiveServer
from tests.signals.vendor_servers import (
    SUMMARY,
    Answer,
    VendorServer,
    summary_with,
    threaded_vendor_server,
)

from panne.catalog import default_catalog, parse
from panne.clock import ManualClock
from panne.store import catalog as catalog_store
from panne.store import keys
from panne.store import vendor_status as store

Make = Any  # the make_server fixture's factory
ADMIN = "/api/v1/admin/vendors"
PATH = "/api/v2/summary.json"


def client(srv: LiveServer, *, trusted: bool = True) -> httpx.Client:
    _, plain = keys.create(srv.node.engine, "admin", trusted=trusted, now_ms=0)
    return httpx.Client(
        base_url=srv.url, headers={"Authorization": f"Bearer {plain}"}, trust_env=False
    )


@pytest.fixture
def page() -> Iterator[VendorServer]:
    with threaded_vendor_server() as srv:
        srv.answers[PATH] = Answer(200, summary_with(components={"Canvas": "operational"}))
        yield srv


def body(page: VendorServer, **kw: object) -> dict[str, object]:
    return {
        "service": "discord",
        "kind": "statuspage",
        "url": page.url("/"),
        "components": ["Canvas"],
        "interval_seconds": 60,
        **kw,
    }


def vendor(srv: LiveServer, slug: str = "discord") -> httpx.Response:
    return httpx.get(f"{srv.url}/api/v1/services/{slug}/vendor", trust_env=False)


def test_admin_vendor_routes_need_a_trusted_key(make_server: Make, page: VendorServer) -> None:
    srv = make_server(vendor_allow_private=True)
    none = httpx.post(srv.url + ADMIN, json=body(page), trust_env=False)
    assert none.status_code == 401
    assert none.headers["content-type"] == "application/problem+json"
    with client(srv, trusted=False) as c:
        assert c.post(ADMIN, json=body(page)).status_code == 403
        assert c.get(ADMIN).status_code == 403
        assert c.delete(f"{ADMIN}/discord").status_code == 403
    with client(srv) as c:
        assert c.get(ADMIN).json() == {"vendors": []}


@pytest.mark.parametrize(
    ("change", "field", "detail"),
    [
        ({"kind": "rss"}, "kind", "kind: must be one of statuspage, feed"),
        ({"url": "ftp://x.example/feed"}, "url", "url: must be an http or https URL"),
        ({"interval_seconds": 5}, "interval_seconds", "interval_seconds: must be between 30"),
        ({"components": "Canvas"}, "components", "components: must be a list"),
        ({"colour": "red"}, "colour", "unknown field 'colour'"),
        ({"service": "nope"}, "service", "service: no service 'nope' in the catalog"),
        # These answered 500: .port and urlsplit raise ValueError, the resolver UnicodeError.
        ({"url": "http://example.com:99999/"}, "url", "url: is not a valid URL"),
        ({"url": "http://[::1/"}, "url", "url: is not a valid URL"),
        ({"url": f"https://{'a' * 64}.example/"}, "url", "is not a valid host name"),
        ({"url": 5}, "url", "url: must be an http or https URL"),
        ({"kind": ["feed"]}, "kind", "kind: must be one of"),
        ({"url": "https://a.example/feed xml"}, "url", "url: contains a space"),
        ({"url": "https://a.example/\tfeed"}, "url", "url: contains a control character"),
    ],
)
def test_a_bad_source_is_422_naming_the_field(
    make_server: Make, page: VendorServer, change: dict[str, object], field: str, detail: str
) -> None:
    srv = make_server(vendor_allow_private=True)
    with client(srv) as c:
        resp = c.post(ADMIN, json=body(page, **change))
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"] == "application/problem+json"
        assert detail in resp.json()["detail"]
        assert resp.json()["field"] == field
        assert c.get(ADMIN).json() == {"vendors": []}


def test_a_bad_port_is_refused_also_where_the_guard_is_on(make_server: Make) -> None:
    srv = make_server()  # the guard's resolution read url.port: a 500 before any check
    with client(srv) as c:
        resp = c.post(
            ADMIN, json={"service": "discord", "kind": "feed", "url": "http://x.example:99999/"}
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["field"] == "url"


def test_a_private_page_is_refused_unless_allowed(make_server: Make, page: VendorServer) -> None:
    srv = make_server()  # vendor_allow_private off, as in production
    with client(srv) as c:
        for url in (page.url("/"), "http://10.1.2.3/", "https://169.254.169.254/summary.json"):
            resp = c.post(ADMIN, json=body(page, url=url))
            assert resp.status_code == 422, resp.text
            detail = resp.json()["detail"]
            assert detail.startswith("url: ") and "vendor_allow_private" in detail
        public = c.post(ADMIN, json=body(page, url="https://192.0.0.9:8443/"))
        assert public.status_code == 201, public.text  # 192.0.0.9/32 is global (IANA)


def test_vendor_source_lifecycle_up_warn_stale_deleted(
    make_server: Make, page: VendorServer, clock: ManualClock
) -> None:
    srv = make_server(vendor_allow_private=True)
    missing = vendor(srv)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert vendor(srv, "nope").status_code == 404
    with client(srv) as c:
        made = c.post(ADMIN, json=body(page))
        assert made.status_code == 201, made.text
        assert made.json()["status"]["state"] == "unknown"
        assert vendor(srv).json()["state"] == "unknown"  # not read yet

        [state] = srv.node.vendor_once()
        assert state.state == "up"
        shown = vendor(srv).json()
        assert shown == {
            "service": "discord",
            "kind": "statuspage",
            "url": page.url("/"),
            "state": "up",
            "description": "Operational",
            "incidents": shown["incidents"],
            "fetched_at": "2024-03-05T15:00:00Z",
            "stale": False,
            "error": None,
        }

        page.answers[PATH] = Answer(200, SUMMARY)  # as recorded: Canvas degraded, one incident
        clock.advance(60)
        srv.node.vendor_once()
        warn = vendor(srv).json()
        assert (warn["state"], warn["description"]) == ("warn", "Warn: Canvas")
        assert warn["fetched_at"] == "2024-03-05T15:01:00Z"
        [incident] = warn["incidents"]
        assert incident["name"] and incident["updated_at"].endswith("Z")
        events = store.load_events(srv.node.engine, service="discord")
        assert [(e.from_state, e.to_state) for e in events] == [(None, "up"), ("up", "warn")]

        page.answers[PATH] = Answer(500, b"oops")
        clock.advance(60)
        srv.node.vendor_once()
        stale = vendor(srv).json()
        assert (stale["state"], stale["stale"], stale["error"]) == ("warn", True, "HTTP 500")
        assert stale["fetched_at"] == "2024-03-05T15:01:00Z"  # the last good read

        metrics = httpx.get(f"{srv.url}/metrics", trust_env=False).text
        assert 'panne_vendor_polls_total{outcome="ok"} 2.0' in metrics
        assert 'panne_vendor_polls_total{outcome="error"} 1.0' in metrics
        assert "panne_vendor_pages_stale 1.0" in metrics

        [listed] = c.get(ADMIN).json()["vendors"]
        assert (listed["service"], listed["failures"], listed["status"]["stale"]) == (
            "discord",
            1,
            True,
        )
        replaced = c.post(ADMIN, json=body(page, interval_seconds=300))
        assert replaced.status_code == 200 and replaced.json()["interval_seconds"] == 300

        assert c.delete(f"{ADMIN}/discord").status_code == 204
        assert c.delete(f"{ADMIN}/discord").status_code == 404
        assert vendor(srv).status_code == 404
        assert c.get(ADMIN).json() == {"vendors": []}
        assert srv.node.vendor_once() == []
        assert (
            "panne_vendor_pages_stale 0.0" in httpx.get(f"{srv.url}/metrics", trust_env=False).text
        )
    assert len(store.load_events(srv.node.engine, service="discord")) == 3  # history stays


def test_the_public_view_hides_credentials(make_server: Make, page: VendorServer) -> None:
    srv = make_server(vendor_allow_private=True)
    secret = page.url("/").replace("http://", "http://user:s3cret@")
    with client(srv) as c:
        assert c.post(ADMIN, json=body(page, url=secret)).status_code == 201
        assert c.get(ADMIN).json()["vendors"][0]["url"] == secret  # admins see it whole
    assert vendor(srv).json()["url"] == page.url("/")


def test_a_catalog_status_page_is_listed_and_polled_but_changed_in_the_file(
    make_server: Make, page: VendorServer, clock: ManualClock
) -> None:
    srv = make_server(vendor_allow_private=True)
    doc = default_catalog().to_dict()
    [discord] = [s for s in doc["services"] if s["slug"] == "discord"]
    discord["status_page"] = {"kind": "statuspage", "url": page.url("/"), "components": ["Canvas"]}
    catalog_store.import_catalog(srv.node.engine, parse(doc), now=clock.now())
    with client(srv) as c:
        [listed] = c.get(ADMIN).json()["vendors"]
        assert (listed["service"], listed["origin"], listed["components"]) == (
            "discord",
            "catalog",
            ["Canvas"],
        )
        [state] = srv.node.vendor_once()
        assert state.state == "up" and vendor(srv).json()["state"] == "up"
        replaced = c.post(ADMIN, json=body(page, interval_seconds=300))
        assert replaced.status_code == 409, replaced.text
        assert "defined by the catalog" in replaced.json()["detail"]
        assert c.delete(f"{ADMIN}/discord").status_code == 409
        assert c.get(ADMIN).json()["vendors"][0]["interval_seconds"] == 120
        mine = c.post(ADMIN, json=body(page, service="slack"))
        assert mine.status_code == 201 and mine.json()["origin"] == "admin"

        del discord["status_page"]
        catalog_store.import_catalog(srv.node.engine, parse(doc), now=clock.now())
        assert [v["service"] for v in c.get(ADMIN).json()["vendors"]] == ["slack"]
