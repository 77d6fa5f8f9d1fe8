"""The report button without JavaScript, over real HTTP: a report is counted once and the page
says so, and a form is taken only from this site, also when it is served through an HTTPS
proxy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import START, LiveServer, settings_for
from tests.web.conftest import Site

from panne.clock import ManualClock
from panne.node import Node
from panne.web.report_form import own_origins


def _form_token(url: str, client: httpx.Client, slug: str = "threads") -> str:
    page = client.get(f"{url}/services/{slug}").text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def _hour_count(page: str) -> int:
    match = re.search(r'data-count="hour">([\d,]+) report', page)
    assert match is not None
    return int(match.group(1).replace(",", ""))


def _feedback(page: str) -> str:
    """The message shown in the form's live region (after its tag and the script's messages)."""
    return page.split('class="feedback"', 1)[1].split('">', 1)[1].split("</p>", 1)[0]


def test_the_report_form_counts_a_report_without_javascript(outage_site: Site) -> None:
    with httpx.Client() as client:
        before = _hour_count(client.get(outage_site.url + "/services/threads").text)
        token = _form_token(outage_site.url, client)
        r = client.post(
            outage_site.url + "/services/threads/report",
            data={"problem": "login", "csrf": token},
        )
        assert r.status_code == 303 and r.headers["location"].endswith("?reported=ok#report")
        after = client.get(outage_site.url + "/services/threads?reported=ok")
        assert "your report was counted" in after.text
        assert _hour_count(after.text) == before + 1
        unknown = client.post(
            outage_site.url + "/services/threads/report", data={"problem": "atm", "csrf": token}
        )
        assert unknown.headers["location"].endswith("?reported=choose#report")


def test_a_second_report_in_the_window_is_said_to_be_counted_once(outage_site: Site) -> None:
    url = outage_site.url
    with httpx.Client(headers={"user-agent": "second-report-test"}) as client:
        token = _form_token(url, client, "messenger")
        form = {"problem": "messaging", "csrf": token}
        first = client.post(f"{url}/services/messenger/report", data=form)
        assert first.headers["location"].endswith("?reported=ok#report")
        counted = _hour_count(client.get(f"{url}/services/messenger").text)
        again = client.post(f"{url}/services/messenger/report", data=form)
        assert again.status_code == 303
        assert again.headers["location"].endswith("?reported=again#report")
        page = client.get(f"{url}/services/messenger?reported=again").text
        feedback = _feedback(page)
        assert "you already reported Messenger in the last few minutes" in feedback
        assert "your report was counted" not in feedback
        assert _hour_count(page) == counted
    fr = httpx.get(f"{url}/services/messenger?reported=again", cookies={"lang": "fr"}).text
    assert "vous avez déjà signalé Messenger" in _feedback(fr)


def test_the_report_form_refuses_cross_site_posts(outage_site: Site) -> None:
    with httpx.Client() as client:
        before = _hour_count(client.get(outage_site.url + "/services/threads").text)
        token = _form_token(outage_site.url, client)
        host = outage_site.url.removeprefix("http://")
        for origin in ("https://evil.example", "null", f"https://{host}.evil.example"):
            forged = client.post(  # the right token, but posted from another site
                outage_site.url + "/services/threads/report",
                data={"problem": "login", "csrf": token},
                headers={"origin": origin},
            )
            assert forged.status_code == 403, origin
    no_cookie = httpx.post(  # another site cannot read or send the same-site cookie
        outage_site.url + "/services/threads/report", data={"problem": "login", "csrf": token}
    )
    assert no_cookie.status_code == 403
    with httpx.Client() as client:  # a token outside ASCII is refused, not a crash
        _form_token(outage_site.url, client)
        forged = client.post(
            outage_site.url + "/services/threads/report",
            data={"problem": "login", "csrf": "jeton-é"},
        )
        assert forged.status_code == 403
    after = httpx.get(outage_site.url + "/services/threads").text
    assert _hour_count(after) == before


def test_a_form_through_an_https_proxy_that_keeps_the_host_is_accepted(outage_site: Site) -> None:
    # The proxy speaks plain HTTP to panne and passes the browser's Host on: the request says
    # http://, the browser's Origin https://, and they are the same site.
    host = outage_site.url.removeprefix("http://")
    with httpx.Client(headers={"user-agent": "https-proxy-test"}) as client:
        token = _form_token(outage_site.url, client, "instagram")
        r = client.post(
            outage_site.url + "/services/instagram/report",
            data={"problem": "login", "csrf": token},
            headers={"origin": f"https://{host}"},
        )
        assert r.status_code == 303 and "reported=ok" in r.headers["location"]


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[str]:
    """A panne whose public address is https://panne.example, behind a proxy that sends its
    own upstream address as the Host (nginx's default)."""
    node = Node(
        settings_for(f"sqlite:///{tmp_path / 'p.db'}", base_url="https://panne.example/"),
        clock=ManualClock(START),
        background=False,
    )
    with LiveServer(node) as server:
        yield server.url


def test_a_form_from_the_configured_public_address_is_accepted(proxied: str) -> None:
    with httpx.Client() as client:
        token = _form_token(proxied, client, "steam")
        form = {"problem": "login", "csrf": token}
        other = client.post(
            f"{proxied}/services/steam/report", data=form, headers={"origin": "https://x.example"}
        )
        assert other.status_code == 403
        ours = client.post(
            f"{proxied}/services/steam/report",
            data=form,
            headers={"origin": "https://panne.example"},
        )
        assert ours.status_code == 303 and "reported=ok" in ours.headers["location"]


def test_own_origins_are_the_public_address_and_the_requested_host() -> None:
    assert own_origins("https://Panne.example/path", "127.0.0.1:8171") == {
        "https://panne.example",
        "http://127.0.0.1:8171",
        "https://127.0.0.1:8171",
    }
    assert own_origins("not a url", None) == frozenset()
