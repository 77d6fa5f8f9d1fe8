"""The HTML pages over real HTTP: each one answers, says its language, escapes what it shows,
sets its security headers, and takes a report from a form only from its own site."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.web import incident_rows
from tests.web.conftest import Site

from panne.signals.probe_state import ProbeState
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.signals.vendor_status import VendorIncident, VendorSource, VendorState
from panne.store import incidents as incident_store
from panne.store import mentions as mention_store
from panne.store import probes as probe_store
from panne.store import vendor_status as vendor_store

PAGES = ["/", "/services/facebook", "/incidents", "/map", "/map?service=instagram", "/groups/meta"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers_in_its_language_with_a_strict_policy(
    outage_site: Site, path: str
) -> None:
    r = httpx.get(outage_site.url + path)
    assert r.status_code == 200
    assert '<html lang="en">' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert " style=" not in r.text  # the policy would block inline styles
    fr = httpx.get(outage_site.url + path, headers={"accept-language": "fr-FR,fr;q=0.9"})
    assert '<html lang="fr">' in fr.text and fr.headers["content-language"] == "fr"


def test_incident_page_has_its_facts_and_a_shareable_preview(outage_site: Site) -> None:
    records, _ = incident_store.query(outage_site.node.engine, active=True, service="facebook")
    fb = next(r for r in records if r.kind == "service")
    page = httpx.get(f"{outage_site.url}/incidents/{fb.id}").text
    assert f'<meta property="og:title" content="{fb.title}">' in page
    assert re.search(r'<meta property="og:description" content="Ongoing since [^"]+ UTC\.', page)
    assert f'og:url" content="{outage_site.node.settings.public_url()}/incidents/{fb.id}"' in page
    for label in ("Started", "Detected", "Peak", "Duration", "Timeline", "Evidence"):
        assert label in page
    assert "Confidence: " in page and "signals that agree: user reports" in page
    assert "United States" in page and "Login" in page
    group = httpx.get(f"{outage_site.url}/incidents/{fb.parent_id}").text
    assert "Services affected" in group
    for slug in ("facebook", "instagram"):
        assert f'href="/services/{slug}"' in group


def test_unknown_things_get_an_html_404(outage_site: Site) -> None:
    for path in ("/services/nope", "/incidents/nope", "/groups/nope"):
        r = httpx.get(outage_site.url + path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    r = httpx.get(outage_site.url + "/services/%3Cscript%3Ealert(1)")
    assert r.status_code == 404 and "<script>alert" not in r.text
    assert "&lt;script&gt;" in r.text


def test_search_filters_and_goes_straight_to_a_single_match(outage_site: Site) -> None:
    one = httpx.get(outage_site.url + "/", params={"q": "فيسبوك"})  # an alias, in Arabic
    assert one.status_code == 303 and one.headers["location"] == "/services/facebook"
    many = httpx.get(outage_site.url + "/", params={"q": "micro"})
    grid = many.text.split('id="services">', 1)[1].split("</ul>", 1)[0]
    assert many.status_code == 200 and "Teams" in grid and "Facebook" not in grid
    none = httpx.get(outage_site.url + "/", params={"q": "<b>nothing</b>"})
    assert "No service matches “&lt;b&gt;nothing&lt;/b&gt;”" in none.text


def test_language_switch_sets_a_cookie_and_stays_on_site(outage_site: Site) -> None:
    r = httpx.get(outage_site.url + "/lang/fr", params={"next": "/services/facebook"})
    assert r.status_code == 303 and r.headers["location"] == "/services/facebook"
    assert "lang=fr" in r.headers["set-cookie"]
    page = httpx.get(outage_site.url + "/services/facebook", cookies={"lang": "fr"})
    assert "J’ai un problème avec Facebook" in page.text
    away = httpx.get(outage_site.url + "/lang/fr", params={"next": "//evil.example/"})
    assert away.headers["location"] == "/"


def test_the_live_block_renders_alone(outage_site: Site) -> None:
    part = httpx.get(outage_site.url + "/services/facebook", params={"live": "headline"}).text
    assert "User reports indicate problems at Facebook since" in part
    assert "<html" not in part and "<form" not in part


def _form_token(site: Site, client: httpx.Client) -> str:
    page = client.get(site.url + "/services/threads").text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def _hour_count(page: str) -> int:
    match = re.search(r'data-count="hour">([\d,]+) report', page)
    assert match is not None
    return int(match.group(1).replace(",", ""))


def test_the_report_form_counts_a_report_without_javascript(outage_site: Site) -> None:
    with httpx.Client() as client:
        before = _hour_count(client.get(outage_site.url + "/services/threads").text)
        token = _form_token(outage_site, client)
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


def test_the_report_form_refuses_cross_site_posts(outage_site: Site) -> None:
    with httpx.Client() as client:
        before = _hour_count(client.get(outage_site.url + "/services/threads").text)
        token = _form_token(outage_site, client)
        forged = client.post(  # the right token, but posted from another site
            outage_site.url + "/services/threads/report",
            data={"problem": "login", "csrf": token},
            headers={"origin": "https://evil.example"},
        )
        assert forged.status_code == 403
    no_cookie = httpx.post(  # another site cannot read or send the same-site cookie
        outage_site.url + "/services/threads/report", data={"problem": "login", "csrf": token}
    )
    assert no_cookie.status_code == 403
    after = httpx.get(outage_site.url + "/services/threads").text
    assert _hour_count(after) == before


def test_archive_filters_and_pages(outage_site: Site) -> None:
    base = outage_site.url + "/incidents"
    meta = httpx.get(base, params={"group": "meta"}).text
    assert "Meta: " in meta
    other = httpx.get(base, params={"service": "steam"}).text
    assert "No incident matches these filters." in other
    by_country = httpx.get(base, params={"country": "us", "since": "2024-03-05"}).text
    assert "Facebook" in by_country
    before = httpx.get(base, params={"until": "2024-03-04"}).text
    assert "No incident matches" in before
    junk = httpx.get(base, params={"since": "yesterday", "country": "<x>", "page": "0"})
    assert junk.status_code == 200  # a bad filter is ignored, not an error page


def test_service_page_shows_its_probes_and_the_vendors_own_word(outage_site: Site) -> None:
    node, now = outage_site.node, outage_site.clock.now()
    spec = ProbeSpec(id="yt-home", service="youtube", kind="http", target="https://u:p@yt.example/")
    probe_store.upsert_specs(node.engine, [spec], now=now)
    failed = ProbeResult("yt-home", now - 30, False, 12.0, "http_5xx", "HTTP 503 <Service>")
    with node.engine.begin() as conn:
        probe_store.record_results(conn, [failed])
        probe_store.save_states(conn, [ProbeState("yt-home", "down", 2, 0, now - 90, now - 30)])
    vendor_store.upsert_source(
        node.engine, VendorSource("youtube", "statuspage", "https://status.yt.example"), now=now
    )
    said = VendorState(
        "youtube",
        "warn",
        "Partial System Outage",
        (VendorIncident("Playback <errors>", "investigating", "major", "javascript:x", now, ""),),
        fetched_at=now,
    )
    vendor_store.record(
        node.engine, said, now=now, etag=None, last_modified=None, failures=0, next_poll_at=now
    )
    page = httpx.get(f"{outage_site.url}/services/youtube").text
    assert "Checks from this server" in page
    assert "HTTP https://yt.example/" in page and "u:p@" not in page  # no credentials shown
    assert "http_5xx: HTTP 503 &lt;Service&gt;" in page
    assert "0.00% uptime over 30 days" in page  # one run, failed
    assert "What YouTube says" in page and "Partial System Outage" in page
    assert "Playback &lt;errors&gt;" in page and 'href="javascript:' not in page
    # An incident of the service now carries that evidence, and the likely cause.
    minute = int(now // 60) * 60
    mention_store.add_counts(node.engine, {("youtube", minute - 60): 9, ("youtube", minute): 4})
    rec = incident_rows.store(node, "youtube-probe", service="youtube", group="google")
    shown = httpx.get(f"{outage_site.url}/incidents/{rec.id}").text
    assert "Confidence: <strong>" not in shown and "Confidence: high" in shown
    assert re.search(r"Likely cause: [^<]*yt\.example", shown)
    assert "Posts mentioning an outage: up to 9 a minute" in shown
    french = httpx.get(f"{outage_site.url}/incidents/{rec.id}", cookies={"lang": "fr"}).text
    assert "Cause probable" in french
    quiet = httpx.get(f"{outage_site.url}/services/steam").text
    assert "Checks from this server" not in quiet and "What Steam says" not in quiet
