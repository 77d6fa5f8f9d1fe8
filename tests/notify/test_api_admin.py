"""The admin API over a real server: keys, subscriptions, the delivery log, maintenance."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.conftest import LiveServer
from tests.notify.conftest import Receiver
from tests.web.incident_rows import T0, store

from panne.clock import ManualClock
from panne.notify.channels import sign
from panne.store import keys
from panne.store import notifications as notify_store
from panne.store.incidents import IncidentEvent
from panne.store.schema import maintenance_windows

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
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
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
        ({"webhook_url": "http://[::1"}, "webhook_url: not a valid URL (Invalid IPv6 URL)"),
        ({"webhook_url": "http://a.example:99999/"}, "webhook_url: not a valid URL (Port out"),
        ({"webhook_url": "http://a.example:abc/"}, "webhook_url: not a valid URL (Port could"),
        ({"webhook_url": "http://a.example:0/"}, "webhook_url: port 0 is not from 1 to 65535"),
        ({"webhook_url": "http:///x"}, "webhook_url: must name a host"),
        ({"webhook_url": "http://a b.example/"}, "is not a host name or an IP address"),
        ({"webhook_url": "https://a.example/\x00"}, "webhook_url: contains a control character"),
        ({"webhook_url": "https://a.example/x\r\nX: y"}, "control character (U+000D)"),
        (
            {"webhook_url": None, "apprise_url": "json://a.example/\x07"},
            "apprise_url: contains a control character (U+0007)",
        ),
        ({"name": "ops\x00"}, "name: must not contain a control character (U+0000)"),
        ({"name": "on\ncall"}, "name: must not contain a control character (U+000A)"),
        ({"name": "   "}, "name: must not be blank"),
    ],
)
def test_bad_subscriptions_are_refused_with_a_clear_detail(
    srv: LiveServer, body: dict[str, Any], detail: str
) -> None:
    full = {"name": "ops", "webhook_url": "https://hooks.example.org/x", **body}
    with client(srv) as c:
        r = c.post("/api/v1/admin/subscriptions", json=full)
        assert c.get("/api/v1/admin/subscriptions").json() == {"subscriptions": []}
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


TG_TOKEN = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_reads_mask_credentials_the_creation_answer_echoes_them(srv: LiveServer) -> None:
    telegram = f"tgram://123456789:{TG_TOKEN}/987654321"
    mail = "mailtos://ops:Pa55w0rd@mail.example.org?to=oncall@example.org"
    hook = "https://hooks.example.org/panne?key=s3cr3t-key"
    with client(srv) as c:
        made = c.post("/api/v1/admin/subscriptions", json={"name": "tg", "apprise_url": telegram})
        assert made.status_code == 201 and made.json()["url"] == telegram
        assert c.post(
            "/api/v1/admin/subscriptions", json={"name": "mail", "apprise_url": mail}
        ).is_success
        signed = c.post("/api/v1/admin/subscriptions", json={"name": "hook", "webhook_url": hook})
        assert signed.status_code == 201 and signed.json()["url"] == hook
        listed = c.get("/api/v1/admin/subscriptions")
    assert [s["url"] for s in listed.json()["subscriptions"]] == [
        "tgram://1234****/****",
        "mailtos://****@mail.example.org?to=****",
        "https://hooks.example.org/panne?key=****",
    ]
    for secret in (TG_TOKEN, "987654321", "Pa55w0rd", "oncall", "s3cr3t-key"):
        assert secret not in listed.text
    with srv.node.engine.connect() as conn:  # the stored URL stays whole: delivery needs it
        assert [s.url for s in notify_store.subscriptions_list(conn)] == [telegram, mail, hook]


def test_a_reason_or_delivery_detail_quoting_the_url_is_scrubbed(srv: LiveServer) -> None:
    hook = "https://ops:hunter22@hooks.example.org/panne?key=s3cr3t-key"
    with client(srv) as c:
        sub = c.post("/api/v1/admin/subscriptions", json={"name": "h", "webhook_url": hook}).json()
        said = f"not an http(s) URL: {hook}"
        with srv.node.engine.begin() as conn:
            notify_store.disable(conn, sub["id"], said, 1000)
            ev = IncidentEvent(1, "facebook-1", "opened", 1000, {})
            notify_store.log(
                conn, sub_id=sub["id"], ev=ev, kind="opened", attempt=1, at=1000, ok=False,
                outcome="refused", detail=said,
            )  # fmt: skip
        masked = "not an http(s) URL: https://****@hooks.example.org/panne?key=****"
        [listed] = c.get("/api/v1/admin/subscriptions").json()["subscriptions"]
        assert listed["disabled_reason"] == masked
        [row] = c.get("/api/v1/admin/deliveries").json()["deliveries"]
        assert row["detail"] == masked


def test_a_disabled_subscription_is_enabled_again_and_receives_again(
    make_server: Make, receiver: Receiver, clock: ManualClock
) -> None:
    clock.set(T0 + 200)
    srv: LiveServer = make_server(notify_allow_private=True)
    with client(srv) as c:
        sub = c.post(
            "/api/v1/admin/subscriptions",
            json={"name": "ops", "services": ["facebook"], "webhook_url": receiver.url + "?k=v1"},
        ).json()
        receiver.statuses = [410]
        store(srv.node, "facebook-1")
        srv.node.notify_once()
        with srv.node.engine.begin() as conn:
            notify_store.gave_up(conn, sub["id"], 1)  # failing as well
        [gone] = c.get("/api/v1/admin/subscriptions").json()["subscriptions"]
        assert gone["disabled_at"] is not None and "HTTP 410" in gone["disabled_reason"]
        assert gone["failing"] is True and gone["consecutive_failures"] == 1

        back = c.post(f"/api/v1/admin/subscriptions/{sub['id']}/enable")
        assert back.status_code == 200, back.text
        body = back.json()
        assert (body["disabled_at"], body["disabled_reason"]) == (None, None)
        assert (body["failing"], body["consecutive_failures"]) == (False, 0)
        assert body["url"].endswith("/hook?k=****") and "secret" not in body
        assert c.get("/api/v1/admin/subscriptions").json()["subscriptions"] == [body]

        store(srv.node, "facebook-2", started_at=T0 + 60)
        clock.advance(600)
        srv.node.notify_once()
        assert [r.json()["incident_id"] for r in receiver.received] == ["facebook-2"]

        unknown = c.post("/api/v1/admin/subscriptions/999/enable")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert unknown.json()["detail"] == "no subscription 999"
    with client(srv, trusted=False) as c:
        assert c.post(f"/api/v1/admin/subscriptions/{sub['id']}/enable").status_code == 403
    assert httpx.post(f"{srv.url}/api/v1/admin/subscriptions/1/enable").status_code == 401


HUGE = "99999999999999999999999"  # beyond any integer column: SQLite cannot even bind it


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("POST", f"/api/v1/admin/subscriptions/{HUGE}/enable", "sub_id"),
        ("DELETE", f"/api/v1/admin/subscriptions/{HUGE}", "sub_id"),
        ("DELETE", "/api/v1/admin/subscriptions/0", "sub_id"),
        ("GET", f"/api/v1/admin/deliveries?subscription={HUGE}", "subscription"),
        ("GET", "/api/v1/admin/deliveries?subscription=-1", "subscription"),
        ("DELETE", f"/api/v1/admin/maintenance/{HUGE}", "window_id"),
        ("DELETE", f"/api/v1/admin/maintenance/{2**63}", "window_id"),
    ],
)
def test_an_id_no_row_can_have_is_refused_naming_it(
    srv: LiveServer, method: str, path: str, field: str
) -> None:
    with client(srv) as c:
        r = c.request(method, path)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == field and r.json()["detail"].startswith(field)


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"starts_at": "0001-01-01T00:00:00+14:00"}, "starts_at: must be from 2000-01-01"),
        ({"starts_at": "1999-12-31T23:59:59Z"}, "starts_at: must be from 2000-01-01"),
        ({"ends_at": "9999-12-31T23:59:59-14:00"}, "ends_at: must be from 2000-01-01"),
        ({"title": "Upgrade\x00"}, "title: must not contain a control character (U+0000)"),
        ({"title": " "}, "title: must not be blank"),
    ],
)
def test_a_maintenance_window_out_of_range_is_refused_and_nothing_stored(
    srv: LiveServer, change: dict[str, str], detail: str
) -> None:
    window = {
        "service": "facebook",
        "starts_at": "2024-03-05T22:00:00Z",
        "ends_at": "2024-03-05T23:00:00Z",
        "title": "Database upgrade",
        **change,
    }
    with client(srv) as c:
        r = c.post("/api/v1/admin/maintenance", json=window)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"].startswith(detail), r.json()
        assert c.get("/api/v1/admin/maintenance").json() == {"maintenance": []}


def test_a_window_stored_before_times_were_checked_breaks_no_reader(srv: LiveServer) -> None:
    with srv.node.engine.begin() as conn:
        conn.execute(
            maintenance_windows.insert().values(
                service="facebook", starts_at=-62_135_647_200, ends_at=10**15, title="Typo",
                created_at=T0,
            )
        )  # fmt: skip
    with client(srv) as c:
        [listed] = c.get("/api/v1/admin/maintenance").json()["maintenance"]
        assert (listed["starts_at"], listed["ends_at"]) == (
            "2000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        )
        for path in ("/api/v2/scheduled-maintenances.json", "/api/v2/summary.json"):
            assert c.get(path).status_code == 200, path
        assert c.get("/status/meta").status_code == 200
        assert c.delete(f"/api/v1/admin/maintenance/{listed['id']}").status_code == 204


def test_an_update_with_an_empty_body_names_the_field_body(srv: LiveServer) -> None:
    store(srv.node, "facebook-1")
    url = "/api/v1/admin/incidents/facebook-1/updates"
    with client(srv) as c:
        empty = c.post(url, json={"state": "identified", "body": ""})
        assert empty.status_code == 422
        problem = empty.json()
        assert problem["errors"][0]["field"] == "body"
        assert problem["detail"] == "body: String should have at least 1 character"
        blank = c.post(url, json={"state": "identified", "body": " \n\t "})
        assert blank.status_code == 422 and blank.json()["detail"] == "body: must not be blank"
        nul = c.post(url, json={"state": "identified", "body": "a\x00b"})
        assert nul.json()["detail"] == "body: must not contain a control character (U+0000)"
        bell = c.post(url, json={"state": "identified", "title": "\x07", "body": "b"})
        assert bell.json()["detail"] == "title: must not contain a control character (U+0007)"
        lines = c.post(url, json={"state": "identified", "body": "Restarting.\n\tLogin first."})
        assert lines.status_code == 201 and lines.json()["body"] == "Restarting.\n\tLogin first."


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/admin/subscriptions",
        "/api/v1/admin/maintenance",
        "/api/v1/admin/probes",
        "/api/v1/admin/vendors",
        "/api/v1/admin/incidents/facebook-1/updates",
    ],
)
def test_a_body_that_is_not_json_is_400_and_another_media_type_415(
    srv: LiveServer, path: str
) -> None:
    """As the report endpoints answer; FastAPI said 422 for both, as for a field's value."""
    store(srv.node, "facebook-1")
    json_type = {"content-type": "application/json"}
    with client(srv) as c:
        cut = c.post(path, content=b'{"name": ', headers=json_type)
        assert cut.status_code == 400, cut.text
        assert cut.json()["title"] == "Malformed JSON"
        for ctype in ("text/plain", "application/x-www-form-urlencoded"):
            other = c.post(path, content=b'{"name": "ops"}', headers={"content-type": ctype})
            assert other.status_code == 415, (ctype, other.text)
            assert other.headers["content-type"] == "application/problem+json"
            assert "Content-Type: application/json" in other.json()["detail"]
        fields = c.post(path, json={"nonsense": 1})  # JSON, but not what the route takes
        assert fields.status_code == 422, fields.text


def test_a_subscription_is_changed_in_place_and_keeps_its_log(
    make_server: Make, receiver: Receiver, clock: ManualClock
) -> None:
    clock.set(T0 + 200)
    srv: LiveServer = make_server(notify_allow_private=True)
    with client(srv) as c:
        made = c.post(
            "/api/v1/admin/subscriptions",
            json={"name": "ops", "services": ["facebook"], "webhook_url": receiver.url},
        ).json()
        path = f"/api/v1/admin/subscriptions/{made['id']}"
        store(srv.node, "facebook-1")
        srv.node.notify_once()
        [first] = receiver.received
        assert first.headers["Panne-Signature"] == sign(
            made["secret"], first.headers["Panne-Timestamp"], first.body
        )

        r = c.patch(path, json={"name": "Platform", "min_severity": "major", "countries": ["fr"]})
        assert r.status_code == 200, r.text
        changed = r.json()
        assert changed["id"] == made["id"] and changed["name"] == "Platform"
        assert (changed["min_severity"], changed["countries"]) == ("major", ["FR"])
        assert changed["services"] == ["facebook"] and changed["channel"] == "webhook"
        assert "secret" not in changed  # the same secret, not shown again
        assert c.get("/api/v1/admin/subscriptions").json()["subscriptions"] == [changed]
        log = c.get(f"/api/v1/admin/deliveries?subscription={made['id']}").json()["deliveries"]
        assert log and all(d["subscription"] == made["id"] for d in log)

        rotated = c.patch(path, json={"new_secret": True, "countries": []}).json()
        assert len(rotated["secret"]) >= 32 and rotated["secret"] != made["secret"]
        store(srv.node, "facebook-2", started_at=T0 + 60)
        clock.advance(600)
        srv.node.notify_once()
        second = receiver.received[-1]
        assert second.json()["incident_id"] == "facebook-2"
        assert second.headers["Panne-Signature"] == sign(
            rotated["secret"], second.headers["Panne-Timestamp"], second.body
        )

        mail = c.patch(path, json={"apprise_url": "mailtos://u:pw@example.org?to=a@b.fr"})
        assert mail.status_code == 200 and mail.json()["channel"] == "apprise"
        assert "secret" not in mail.json() and "pw" not in mail.json()["url"]
        refused = c.patch(path, json={"new_secret": True})
        assert refused.status_code == 422 and refused.json()["detail"].startswith("new_secret")
        back = c.patch(path, json={"webhook_url": receiver.url}).json()
        assert back["channel"] == "webhook" and len(back["secret"]) >= 32  # a new one: told once


def test_a_new_url_starts_the_failure_count_afresh(srv: LiveServer) -> None:
    with client(srv) as c:
        made = c.post(
            "/api/v1/admin/subscriptions",
            json={"name": "ops", "webhook_url": "https://hooks.example.org/old"},
        ).json()
        with srv.node.engine.begin() as conn:
            notify_store.gave_up(conn, made["id"], 1)
            notify_store.disable(conn, made["id"], "HTTP 410", 1)
        path = f"/api/v1/admin/subscriptions/{made['id']}"
        same = c.patch(path, json={"name": "ops 2"}).json()
        assert (same["failing"], same["consecutive_failures"]) == (True, 1)
        moved = c.patch(path, json={"webhook_url": "https://hooks.example.org/new"}).json()
        assert (moved["failing"], moved["consecutive_failures"]) == (False, 0)
        assert moved["disabled_at"] is not None  # enabled again only when asked
        assert "secret" not in moved  # still a webhook: its secret stays


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"services": ["nope"]}, "services: no service 'nope' in the catalog"),
        ({"countries": ["XX"]}, "countries: 'XX' is not an ISO 3166-1 alpha-2 code"),
        ({"webhook_url": "ftp://example.org/x"}, "webhook_url: must be an http:// or https://"),
        ({"webhook_url": "http://10.1.2.3/x"}, "10.1.2.3 is a private address"),
        (
            {"webhook_url": "https://a.example/", "apprise_url": "json://a.example/"},
            "give exactly one of webhook_url and apprise_url",
        ),
        ({"apprise_url": "json://a.example/", "secret": "s" * 20}, "secret: only webhooks"),
        ({"secret": "short"}, "secret: String should have at least 16 characters"),
        ({"name": "   "}, "name: must not be blank"),
        ({"min_severity": "huge"}, "min_severity: Input should be 'minor', 'major' or"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_change_is_refused_and_nothing_changes(
    srv: LiveServer, body: dict[str, Any], detail: str
) -> None:
    with client(srv) as c:
        made = c.post(
            "/api/v1/admin/subscriptions",
            json={"name": "ops", "webhook_url": "https://hooks.example.org/x"},
        )
        before = c.get("/api/v1/admin/subscriptions").json()
        r = c.patch(f"/api/v1/admin/subscriptions/{made.json()['id']}", json=body)
        assert c.get("/api/v1/admin/subscriptions").json() == before
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert detail in r.json()["detail"]


def test_changing_an_unknown_subscription_is_a_404(srv: LiveServer) -> None:
    with client(srv) as c:
        r = c.patch("/api/v1/admin/subscriptions/999", json={"name": "x"})
        assert r.status_code == 404 and r.json()["detail"] == "no subscription 999"
        huge = c.patch(f"/api/v1/admin/subscriptions/{HUGE}", json={})
        assert huge.status_code == 422 and huge.json()["errors"][0]["field"] == "sub_id"
    with client(srv, trusted=False) as c:
        assert c.patch("/api/v1/admin/subscriptions/1", json={}).status_code == 403
