"""The admin pages in use: sign in with a trusted key, subscribe a webhook, see its deliveries,
plan maintenance, write an update; and every way a form can be forged or a session misused."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from tests.web.conftest import Site, meta_outage_site

from panne.store import incidents as incident_store
from panne.store import keys
from panne.store import maintenance as maintenance_store
from panne.store import notifications as notification_store


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    path = tmp_path_factory.mktemp("admin") / "panne.db"
    with meta_outage_site(path, notify_allow_private=True) as s:
        yield s


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[dict[str, object]]]]:
    got: list[dict[str, object]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()
    server.server_close()


SignIn = Callable[..., tuple[httpx.Client, str]]


@pytest.fixture
def sign_in(site: Site) -> Iterator[SignIn]:
    """Sign in with a new key; the browser-like client keeps the session cookie."""
    clients: list[httpx.Client] = []

    def signed_in(trusted: bool = True) -> tuple[httpx.Client, str]:
        _, plain = keys.create(site.node.engine, "ops", trusted=trusted, now_ms=0)
        client = httpx.Client(base_url=site.url)
        clients.append(client)
        r = client.post("/admin/login", data={"key": plain})
        if r.status_code != 303:
            return client, ""
        assert "httponly" in r.headers["set-cookie"].lower()
        assert "samesite=strict" in r.headers["set-cookie"].lower()
        match = re.search(r'name="token" value="([0-9a-f]+)"', client.get("/admin").text)
        assert match is not None
        return client, match.group(1)

    yield signed_in
    for client in clients:
        client.close()


def test_sign_in_needs_a_trusted_key(site: Site, sign_in: SignIn) -> None:
    anonymous = httpx.get(f"{site.url}/admin")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/admin/login"
    assert httpx.post(f"{site.url}/admin/login", data={"key": "pk_nope"}).status_code == 403
    untrusted, _ = sign_in(trusted=False)
    assert untrusted.get("/admin").status_code == 303
    client, token = sign_in()
    page = client.get("/admin")
    assert page.status_code == 200 and "Subscriptions" in page.text and token
    forged = httpx.get(f"{site.url}/admin", cookies={"panne_admin": "1.9999999999.00"})
    assert forged.status_code == 303  # a cookie not signed by this panne is no session
    odd = httpx.get(f"{site.url}/admin", headers={"cookie": "panne_admin=1.9999999999.é".encode()})
    assert odd.status_code == 303  # nor is one outside ASCII (it was a 500)


def test_a_webhook_subscription_from_the_page_delivers_and_is_logged(
    site: Site, receiver: tuple[str, list[dict[str, object]]], sign_in: SignIn
) -> None:
    url, got = receiver
    client, token = sign_in()
    form = {"token": token, "name": "noc", "groups": "meta", "channel": "webhook", "url": url}
    r = client.post("/admin/subscriptions", data=form)
    assert r.status_code == 201 and "Webhook secret, shown only now:" in r.text
    bad = client.post("/admin/subscriptions", data={**form, "groups": "nope"})
    assert bad.status_code == 422 and "no group &#39;nope&#39; in the catalog" in bad.text
    site.node.notify_once()
    assert got and any("Meta" in str(m.get("title", "")) for m in got)
    log = client.get("/admin/deliveries").text
    assert "delivered" in log
    metrics = httpx.get(f"{site.url}/metrics").text
    assert re.search(r'panne_notification_deliveries_total\{outcome="delivered"\} [1-9]', metrics)
    assert client.get("/admin").text.count("<td>noc</td>") == 1


def test_maintenance_and_updates_reach_the_status_page(site: Site, sign_in: SignIn) -> None:
    client, token = sign_in()
    planned = client.post(
        "/admin/maintenance",
        data={
            "token": token,
            "service": "whatsapp",
            "starts_at": "2030-01-01T10:00",
            "ends_at": "2030-01-01T12:00",
            "title": "Database upgrade",
        },
    )
    assert planned.status_code == 303 and planned.headers["location"] == "/admin?done=planned"
    wrong = client.post(
        "/admin/maintenance",
        data={"token": token, "service": "whatsapp", "starts_at": "soon", "ends_at": "x"},
    )
    assert wrong.status_code == 422 and "not a date and time" in wrong.text
    offset = client.post(  # a time with its own offset keeps it (it was read as UTC)
        "/admin/maintenance",
        data={
            "token": token,
            "service": "steam",
            "starts_at": "2030-01-01T10:00+02:00",
            "ends_at": "2030-01-01T12:00+02:00",
            "title": "Offset",
        },
    )
    assert offset.status_code == 303
    [window] = maintenance_store.windows(site.node.engine, "steam")
    assert (window.starts_at, window.ends_at) == (1893484800, 1893492000)  # 08:00-10:00 UTC
    page = client.get("/admin").text
    incident_id = re.search(r'action="/admin/incidents/([^/]+)/updates"', page)
    assert incident_id is not None
    done = client.post(
        f"/admin/incidents/{incident_id.group(1)}/updates",
        data={"token": token, "state": "monitoring", "body": "A fix is rolling out"},
    )
    assert done.status_code == 303
    status = httpx.get(f"{site.url}/status/meta").text
    assert "Database upgrade" in status and "A fix is rolling out" in status


def test_forms_refuse_forgeries(site: Site, sign_in: SignIn) -> None:
    client, token = sign_in()
    form = {"token": token, "service": "steam", "starts_at": "2030-01-01T10:00"}
    other_site = client.post(
        "/admin/maintenance", data=form, headers={"origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    no_token = client.post("/admin/maintenance", data={**form, "token": "0" * 64})
    assert no_token.status_code == 403
    not_ascii = client.post("/admin/maintenance", data={**form, "token": "é" * 64})
    assert not_ascii.status_code == 403
    no_session = httpx.post(f"{site.url}/admin/maintenance", data=form)
    assert no_session.status_code == 403
    _, other_token = sign_in()
    assert other_token != token  # a form token belongs to one session
    assert client.post("/admin/logout").status_code == 303
    assert client.get("/admin").status_code == 303


def test_urls_are_masked_and_a_disabled_subscription_can_be_enabled_again(
    site: Site, sign_in: SignIn
) -> None:
    client, token = sign_in()
    telegram = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"
    form = {
        "token": token,
        "name": "telegram-noc",
        "services": "steam",  # not in the outage: nothing is sent to Telegram from a test
        "min_severity": "critical",
        "channel": "apprise",
        "url": telegram,
    }
    assert client.post("/admin/subscriptions", data=form).status_code == 201
    page = client.get("/admin").text
    assert "apprise: tgram://1234****/****" in page
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in page and "987654321" not in page
    with site.node.engine.connect() as conn:
        [sub] = [s for s in notification_store.subscriptions_list(conn) if s.name == "telegram-noc"]
    enable = f'action="/admin/subscriptions/{sub.id}/enable"'
    assert enable not in page  # healthy: nothing to enable

    with site.node.engine.begin() as conn:
        notification_store.disable(conn, sub.id, f"Apprise refused {telegram}", 1000)
    page = client.get("/admin").text
    assert enable in page and "Enable again" in page
    assert "Apprise refused tgram://1234****/****" in page and "AAHdq" not in page
    french = client.get("/admin", headers={"accept-language": "fr"}).text
    assert "Réactiver" in french

    assert client.post(f"/admin/subscriptions/{sub.id}/enable", data={}).status_code == 403
    done = client.post(f"/admin/subscriptions/{sub.id}/enable", data={"token": token})
    assert done.status_code == 303 and done.headers["location"] == "/admin?done=enabled"
    page = client.get("/admin?done=enabled").text
    assert "Subscription enabled again." in page and enable not in page
    with site.node.engine.connect() as conn:
        after = notification_store.get_subscription(conn, sub.id)
    assert after is not None and after.disabled_at is None and after.disabled_reason is None
    unknown = client.post("/admin/subscriptions/99999/enable", data={"token": token})
    assert unknown.status_code == 404 and "no subscription 99999" in unknown.text
    gone = client.post(f"/admin/subscriptions/{sub.id}/delete", data={"token": token})
    assert gone.status_code == 303


def test_a_subscription_is_changed_from_the_page(site: Site, sign_in: SignIn) -> None:
    client, token = sign_in()
    form = {"token": token, "name": "to-change", "services": "steam", "channel": "webhook",
            "url": "http://127.0.0.1:9/hook"}  # fmt: skip
    assert client.post("/admin/subscriptions", data=form).status_code == 201
    with site.node.engine.connect() as conn:
        [sub] = [s for s in notification_store.subscriptions_list(conn) if s.name == "to-change"]
    edit = f"/admin/subscriptions/{sub.id}/edit"
    page = client.get("/admin").text
    assert f'action="{edit}"' in page and 'value="steam"' in page
    assert "127.0.0.1:9" not in page.split(f'action="{edit}"')[1].split("</form>")[0]

    change = {"token": token, "name": "changed", "services": "steam, discord", "groups": "",
              "countries": "fr", "min_severity": "critical", "language": "fr",
              "channel": "webhook", "url": ""}  # fmt: skip
    done = client.post(edit, data=change)
    assert done.status_code == 303 and done.headers["location"] == "/admin?done=changed"
    assert "Subscription changed." in client.get("/admin?done=changed").text
    with site.node.engine.connect() as conn:
        after = notification_store.get_subscription(conn, sub.id)
    assert after is not None
    assert (after.name, after.countries) == ("changed", ["FR"])
    assert after.services == ["steam", "discord"]
    assert (after.min_severity, after.language, after.url) == ("critical", "fr", sub.url)
    assert after.secret == sub.secret

    rotated = client.post(edit, data={**change, "new_secret": "1"})
    assert rotated.status_code == 200 and "Webhook secret, shown only now:" in rotated.text
    with site.node.engine.connect() as conn:
        again = notification_store.get_subscription(conn, sub.id)
    assert again is not None and again.secret != sub.secret and again.secret in rotated.text

    switched = client.post(edit, data={**change, "channel": "apprise"})
    assert switched.status_code == 422 and "url: another channel needs its URL" in switched.text
    bad = client.post(edit, data={**change, "services": "nope"})
    assert bad.status_code == 422 and "no service &#39;nope&#39; in the catalog" in bad.text
    assert client.post(edit, data={**change, "token": "forged"}).status_code == 403
    unknown = client.post("/admin/subscriptions/99999/edit", data=change)
    assert unknown.status_code == 404 and "no subscription 99999" in unknown.text
    french = client.get("/admin", headers={"accept-language": "fr"}).text
    assert "Modifier" in french and "Enregistrer" in french
    assert client.post(f"/admin/subscriptions/{sub.id}/delete", data={"token": token})


HUGE = "99999999999999999999999"  # beyond any integer column: SQLite cannot even bind it


def test_bad_form_input_is_a_page_naming_the_field_never_a_crash(
    site: Site, sign_in: SignIn
) -> None:
    client, token = sign_in()
    hook = {"token": token, "name": "noc", "channel": "webhook", "url": "http://[::1"}
    r = client.post("/admin/subscriptions", data=hook)
    assert r.status_code == 422 and "webhook_url: not a valid URL (Invalid IPv6 URL)" in r.text
    r = client.post("/admin/subscriptions", data={**hook, "url": "https://a.example:99999/"})
    assert r.status_code == 422 and "webhook_url: not a valid URL" in r.text
    window = {
        "token": token,
        "service": "whatsapp",
        "starts_at": "0001-01-01T00:00",
        "ends_at": "2030-01-01T12:00",
        "title": "Typo",
    }
    r = client.post("/admin/maintenance", data=window)
    assert r.status_code == 422 and "starts_at: must be from 2000-01-01" in r.text
    assert "Typo" not in client.get("/admin").text  # nothing stored
    for path in (f"/subscriptions/{HUGE}/delete", f"/subscriptions/{HUGE}/enable"):
        r = client.post(f"/admin{path}", data={"token": token})
        assert r.status_code == 404 and f"no subscription {HUGE}" in r.text
    r = client.post(f"/admin/maintenance/{HUGE}/delete", data={"token": token})
    assert r.status_code == 404 and f"no maintenance window {HUGE}" in r.text
    log = client.get(f"/admin/deliveries?subscription={HUGE}")
    assert log.status_code == 200 and "Nothing sent yet." in log.text


def test_the_delivery_log_names_the_subscription_and_the_incident(
    site: Site, sign_in: SignIn
) -> None:
    client, token = sign_in()
    form = {"token": token, "name": "Night shift", "groups": "meta", "channel": "webhook"}
    made = client.post("/admin/subscriptions", data={**form, "url": "https://hooks.example.org/n"})
    assert made.status_code == 201
    with site.node.engine.connect() as conn:
        [sub] = [s for s in notification_store.subscriptions_list(conn) if s.name == "Night shift"]
    [rec] = incident_store.query(site.node.engine, active=True, kind="group")[0][:1]
    [ev, *_] = incident_store.timeline(site.node.engine, rec.id)
    with site.node.engine.begin() as conn:
        notification_store.log(
            conn, sub_id=sub.id, ev=ev, kind="opened", attempt=1, at=ev.at, ok=False,
            outcome="failed", detail="HTTP 503",
        )  # fmt: skip
    log = client.get(f"/admin/deliveries?subscription={sub.id}").text
    assert f'subscription={sub.id}">Night shift</a>' in log
    assert f'href="/incidents/{rec.id}">{html.escape(rec.title)}</a>' in log
    assert "<h1>Delivery log · Night shift</h1>" in log
    client.post(f"/admin/subscriptions/{sub.id}/delete", data={"token": token})
    gone = client.get(f"/admin/deliveries?subscription={sub.id}").text
    assert f'subscription={sub.id}">#{sub.id} (deleted)</a>' in gone


def test_an_operators_update_shows_on_the_incident_page(site: Site, sign_in: SignIn) -> None:
    client, token = sign_in()
    [rec] = incident_store.query(site.node.engine, active=True, kind="group")[0][:1]
    posted = client.post(
        f"/admin/incidents/{rec.id}/updates",
        data={"token": token, "state": "identified", "title": "Login", "body": "Servers restart"},
    )
    assert posted.status_code == 303
    page = httpx.get(f"{site.url}/incidents/{rec.id}").text
    assert (
        "<strong>Identified</strong> · <strong><bdi>Login</bdi></strong> — "
        '<bdi class="update-body">Servers restart</bdi>' in page
    )
    french = httpx.get(f"{site.url}/incidents/{rec.id}", cookies={"lang": "fr"}).text
    assert "Mises à jour" in french and "<strong>Identifié</strong>" in french
