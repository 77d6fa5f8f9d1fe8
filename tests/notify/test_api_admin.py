"""The admin API over a real server: keys, subscriptions, the delivery log, maintenance."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.conftest import LiveServer

from panne.store import keys

Make = Any  # the make_server fixture's factory


def client(srv: LiveServer, *, trusted: bool = True) -> httpx.Client:
    _, plain = keys.create(srv.node.engine, "admin", trusted=trusted, now_ms=0)
    return httpx.Client(
        base_url=srv.url, headers={"Authorization": f"Bearer {plain}"}, trust_env=False
    )


@pytest.fixture
def srv(make_server: Make) -> LiveServer:
    return make_server()  # type: ignore[no-any-return]


def test_admin_routes_need_a_trusted_key(srv: LiveServer) -> None:
    url = f"{srv.url}/api/v1/admin/subscriptions"
    none = httpx.get(url, trust_env=False)
    assert none.status_code == 401
    assert none.headers["content-type"] == "application/problem+json"
    assert "Bearer" in none.json()["detail"]
    bad = httpx.get(url, headers={"Authorization": "Bearer pk_nope"}, trust_env=False)
    assert bad.status_code == 403 and "unknown or revoked" in bad.json()["detail"]
    with client(srv, trusted=False) as c:
        assert c.get("/api/v1/admin/subscriptions").status_code == 403
    with client(srv) as c:
        assert c.get("/api/v1/admin/subscriptions").json() == {"subscriptions": []}


def test_subscriptions_are_created_listed_and_deleted(srv: LiveServer) -> None:
    with client(srv) as c:
        made = c.post(
            "/api/v1/admin/subscriptions",
            json={
                "name": "Platform team",
                "groups": ["meta"],
                "countries": ["FR"],
                "min_severity": "major",
                "language": "fr",
                "webhook_url": "https://hooks.example.org/panne",
            },
        )
        assert made.status_code == 201, made.text
        sub = made.json()
        assert sub["channel"] == "webhook" and len(sub["secret"]) >= 32
        mail = c.post(
            "/api/v1/admin/subscriptions",
            json={"name": "On call", "apprise_url": "mailtos://user:pw@example.org?to=a@b.fr"},
        )
        assert mail.status_code == 201 and "secret" not in mail.json()
        listed = c.get("/api/v1/admin/subscriptions").json()["subscriptions"]
        assert [s["name"] for s in listed] == ["Platform team", "On call"]
        assert "secret" not in listed[0] and listed[0]["failing"] is False
        assert c.delete(f"/api/v1/admin/subscriptions/{sub['id']}").status_code == 204
        gone = c.delete(f"/api/v1/admin/subscriptions/{sub['id']}")
        assert gone.status_code == 404
        assert c.get(f"/api/v1/admin/deliveries?subscription={sub['id']}").json() == {
            "deliveries": []
        }


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"services": ["nope"]}, "services: no service 'nope' in the catalog"),
        ({"groups": ["nope"]}, "groups: no group 'nope' in the catalog"),
        ({"countries": ["XX"]}, "countries: 'XX' is not an ISO 3166-1 alpha-2 code"),
        ({"webhook_url": None}, "give exactly one of webhook_url and apprise_url"),
        ({"apprise_url": "mailto://a@b.c"}, "give exactly one of webhook_url and apprise_url"),
        ({"webhook_url": "ftp://example.org/x"}, "webhook_url: must be an http:// or https://"),
        ({"webhook_url": "http://127.0.0.1:9/x"}, "127.0.0.1 is a loopback address"),
        ({"webhook_url": "http://[::1]/x"}, "::1 is a loopback address"),
        ({"webhook_url": "http://10.1.2.3/x"}, "10.1.2.3 is a private address"),
        ({"min_severity": "huge"}, "min_severity: Input should be 'minor', 'major' or 'critical'"),
        ({"language": "de"}, "language: Input should be 'en' or 'fr'"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"secret": "short"}, "secret: String should have at least 16 characters"),
    ],
)
def test_bad_subscriptions_are_refused_with_a_clear_detail(
    srv: LiveServer, body: dict[str, Any], detail: str
) -> None:
    full = {"name": "ops", "webhook_url": "https://hooks.example.org/x", **body}
    with client(srv) as c:
        r = c.post("/api/v1/admin/subscriptions", json=full)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert detail in r.json()["detail"]


def test_an_apprise_url_apprise_cannot_parse_is_refused(srv: LiveServer) -> None:
    with client(srv) as c:
        r = c.post("/api/v1/admin/subscriptions", json={"name": "ops", "apprise_url": "nosuch://x"})
    assert r.status_code == 422 and "Apprise does not understand" in r.json()["detail"]


def test_maintenance_windows_are_planned_listed_and_cancelled(srv: LiveServer) -> None:
    window = {
        "service": "facebook",
        "starts_at": "2024-03-05T22:00:00Z",
        "ends_at": "2024-03-05T23:00:00+00:00",
        "title": "Database upgrade",
    }
    with client(srv) as c:
        made = c.post("/api/v1/admin/maintenance", json=window)
        assert made.status_code == 201, made.text
        assert made.json()["starts_at"] == "2024-03-05T22:00:00Z"
        listed = c.get("/api/v1/admin/maintenance").json()["maintenance"]
        assert [m["title"] for m in listed] == ["Database upgrade"]
        backwards = c.post(
            "/api/v1/admin/maintenance", json={**window, "ends_at": "2024-03-05T21:00:00Z"}
        )
        assert backwards.status_code == 422
        assert backwards.json()["detail"] == "ends_at: must be after starts_at"
        naive = c.post(
            "/api/v1/admin/maintenance", json={**window, "starts_at": "2024-03-05T22:00"}
        )
        assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
        unknown = c.post("/api/v1/admin/maintenance", json={**window, "service": "nope"})
        assert unknown.status_code == 422
        assert c.delete(f"/api/v1/admin/maintenance/{made.json()['id']}").status_code == 204
        assert c.get("/api/v1/admin/maintenance").json() == {"maintenance": []}
