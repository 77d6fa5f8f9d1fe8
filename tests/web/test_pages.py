"""The HTML pages over real HTTP: each one answers, says its language, escapes what it shows,
sets its security headers and its caching terms, and reads in the page's language."""

from __future__ import annotations

import re

import httpx
import pytest
from jinja2 import TemplateNotFound
from tests.web import incident_rows
from tests.web.conftest import Site

from panne.signals.probe_state import ProbeState
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.signals.reports import Report, new_report_id
from panne.signals.vendor_status import VendorIncident, VendorSource, VendorState
from panne.store import incidents as incident_store
from panne.store import mentions as mention_store
from panne.store import probes as probe_store
from panne.store import vendor_status as vendor_store
from panne.web.pages import template_env
from panne.web.worldmap import dots

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


def test_pages_keep_the_templates_the_server_started_with(
    outage_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Templates are compiled once: with the files gone (an upgrade in place halfway), every
    page still renders as it did."""
    env = template_env()
    before = httpx.get(f"{outage_site.url}/services/threads")
    assert env.loader is not None

    def gone(_: object, name: str) -> None:
        raise TemplateNotFound(name)

    monkeypatch.setattr(env.loader, "get_source", gone)  # nothing left to read
    for path in ("/", "/services/threads", "/map", "/incidents", "/status/meta", "/nope"):
        r = httpx.get(f"{outage_site.url}{path}")
        assert r.status_code == (404 if path == "/nope" else 200), (path, r.text[:300])
    assert httpx.get(f"{outage_site.url}/services/threads").text.count("<section") == (
        before.text.count("<section")
    )


@pytest.mark.parametrize("header", ["FR", "Fr-fr", "FR-CA", "EN", "EN-US"])
def test_an_uppercase_language_tag_gets_the_page_in_that_language(
    outage_site: Site, header: str
) -> None:
    r = httpx.get(outage_site.url + "/services/facebook", headers={"accept-language": header})
    assert r.status_code == 200
    assert r.headers["content-language"] == header[:2].lower()


@pytest.mark.parametrize("path", [*PAGES, "/status/meta", "/embed/facebook"])
def test_pages_answer_head_and_say_they_vary_by_language(outage_site: Site, path: str) -> None:
    head = httpx.head(outage_site.url + path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/html")
    got = httpx.get(outage_site.url + path)  # httpx asks for gzip: the encoding is named too
    vary = {v.strip().lower() for v in got.headers["vary"].split(",")}
    assert {"accept-language", "cookie", "accept-encoding"} <= vary


def test_incident_page_has_its_facts_and_a_shareable_preview(outage_site: Site) -> None:
    records, _ = incident_store.query(outage_site.node.engine, active=True, service="facebook")
    fb = next(r for r in records if r.kind == "service")
    page = httpx.get(f"{outage_site.url}/incidents/{fb.id}").text
    # What happened, when: a shared link reads as news, not as a bare service name.
    assert re.search(
        r'<meta property="og:title" content="Facebook outage — March 5, 2024, 3:1\d\sPM UTC">', page
    )
    assert re.search(r'<meta property="og:description" content="Ongoing since [^"]+ UTC\.', page)
    assert f'og:url" content="{outage_site.node.settings.public_url()}/incidents/{fb.id}"' in page
    for label in ("Started", "Detected", "Peak", "Duration", "Timeline", "Evidence"):
        assert label in page
    assert "Confidence: " in page and "signals that agree: user reports" in page
    assert "United States" in page and "Login" in page
    peak = page.split("<dt>Peak</dt><dd>", 1)[1].split("</dd>", 1)[0]
    assert re.search(r"the usual, at <time datetime=\"2024-03-05T15:\d\d:\d\dZ\"", peak)
    group = httpx.get(f"{outage_site.url}/incidents/{fb.parent_id}").text
    assert "Services affected" in group
    for slug in ("facebook", "instagram"):
        assert f'href="/services/{slug}"' in group
    assert 'content="Meta outage — March 5, 2024' in group
    assert "the usual, at <time" in group  # the group's peak: its largest member's
    fr = httpx.get(f"{outage_site.url}/incidents/{fb.id}", cookies={"lang": "fr"}).text
    assert 'content="Panne de Facebook — 5 mars 2024 à 15:1' in fr
    # French puts a space before a colon, so the colon is the translation's, not the template's.
    assert (
        "Gravité\u00a0: " in fr
        and "Confiance\u00a0: " in fr
        and "signaux concordants\u00a0: " in fr
    )
    assert "Gravité:" not in fr and "Confiance:" not in fr


def test_service_page_has_a_shareable_preview_with_its_status(outage_site: Site) -> None:
    page = httpx.get(f"{outage_site.url}/services/facebook").text
    assert re.search(
        r'<meta property="og:title" content="Is Facebook down\? Problems reported since '
        r'3:1\d\sPM UTC">',
        page,
    )
    assert '<meta property="og:description" content="Live user reports of problems' in page
    base = outage_site.node.settings.public_url()
    assert f'<meta property="og:url" content="{base}/services/facebook">' in page
    quiet = httpx.get(f"{outage_site.url}/services/steam").text
    assert 'og:title" content="Is Steam down? No current problems reported"' in quiet


def test_incident_rows_name_their_countries_in_the_pages_language(outage_site: Site) -> None:
    rows = httpx.get(outage_site.url + "/incidents", params={"group": "meta"}).text
    assert "United States" in rows and "· US," not in rows
    fr = httpx.get(outage_site.url + "/incidents", params={"group": "meta"}, cookies={"lang": "fr"})
    assert "États-Unis" in fr.text


def test_unknown_things_get_an_html_404(outage_site: Site) -> None:
    for path in ("/services/nope", "/incidents/nope", "/groups/nope", "/groups/", "/services"):
        r = httpx.get(outage_site.url + path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    r = httpx.get(outage_site.url + "/services/%3Cscript%3Ealert(1)")
    assert r.status_code == 404 and "<script>alert" not in r.text
    assert "&lt;script&gt;" in r.text
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = httpx.get(outage_site.url + "/no/such/page", headers=browser)  # a link gone stale
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "/no/such/page" in page.text and 'lang="en"' in page.text
    script = httpx.get(outage_site.url + "/no/such/page")  # an API client keeps its JSON
    assert script.headers["content-type"] == "application/problem+json"
    for api in ("/api/v1/nope", "/static/nope.css"):
        r = httpx.get(outage_site.url + api, headers=browser)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_search_filters_and_goes_straight_to_a_single_match(outage_site: Site) -> None:
    one = httpx.get(outage_site.url + "/", params={"q": "فيسبوك"})  # an alias, in Arabic
    assert one.status_code == 303 and one.headers["location"] == "/services/facebook"
    many = httpx.get(outage_site.url + "/", params={"q": "micro"})
    grid = many.text.split('id="services">', 1)[1].split("</ul>", 1)[0]
    assert many.status_code == 200 and "Teams" in grid and "Facebook" not in grid
    none = httpx.get(outage_site.url + "/", params={"q": "<b>nothing</b>"})
    assert "No service matches “&lt;b&gt;nothing&lt;/b&gt;”" in none.text


@pytest.mark.parametrize(
    ("query", "slug"), [("steam", "steam"), ("STEAM", "steam"), ("teams", "teams")]
)
def test_a_name_typed_in_full_goes_to_its_service_even_inside_other_names(
    outage_site: Site, query: str, slug: str
) -> None:
    # "steam" is also inside Microsoft Teams' alias "msteams": the exact name wins.
    r = httpx.get(outage_site.url + "/", params={"q": query})
    assert r.status_code == 303 and r.headers["location"] == f"/services/{slug}"


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


def test_archive_pages_stay_in_range(outage_site: Site) -> None:
    node = outage_site.node
    for i in range(30):  # more than a page of the archive: Slack's, long over
        at = 1_709_000_000 + 3600 * i
        incident_rows.store(
            node,
            f"paging-{i}",
            service="slack",
            group=None,
            started_at=at,
            events=(("opened", at + 180), ("resolved", at + 2700)),
        )
    base = outage_site.url + "/incidents"
    first = httpx.get(base, params={"service": "slack"}).text
    assert "Page 1 of 2" in first
    past = httpx.get(base, params={"service": "slack", "page": "99"})
    assert past.status_code == 200 and "Page 2 of 2" in past.text  # the last page, not none
    assert past.text.count('<li class="incident') == 5
    for bad in ("abc", "-3", "1.5", ""):
        r = httpx.get(base, params={"service": "slack", "page": bad})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "Page 1 of 2" in r.text


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
    assert "server error (HTTP 5xx): HTTP 503 &lt;Service&gt;" in page  # a detail as it came
    assert "0.00% uptime over 30 days" in page  # one run, failed
    assert "What YouTube says" in page and "Partial system outage." in page
    assert "Playback &lt;errors&gt;" in page and 'href="javascript:' not in page
    assert "investigating" in page
    # In French, every word panne or Statuspage wrote is said in French; only the vendor's own
    # incident name and a detail of no known shape stay as they came (marked English).
    fr = httpx.get(f"{outage_site.url}/services/youtube", cookies={"lang": "fr"}).text
    assert 'erreur serveur (HTTP 5xx)\u00a0: <span lang="en">HTTP 503 &lt;Service&gt;</span>' in fr
    assert "Panne partielle des systèmes." in fr and "en cours d’analyse" in fr
    for english in ("Partial System Outage", ">investigating<", "http_5xx", "UTC:"):
        assert english not in fr
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


def test_shares_show_counts_and_small_countries_are_dots_on_the_map(
    outage_site: Site,
) -> None:
    node, now = outage_site.node, outage_site.clock.now()
    sid = node.catalog.services["steam"].id
    assert sid is not None
    ms = int(now * 1000) - 60_000
    ids = [new_report_id(ms + i) for i in range(3)]
    node.writer.write_sync([Report(i, sid, "login", "SG", ms, ms, None, True, "test") for i in ids])
    page = httpx.get(f"{outage_site.url}/services/steam").text
    where = page.split('id="countries-h"', 1)[1].split("</table>", 1)[0]
    row = where.split("Singapore", 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">3</td>' in row  # the count beside the share, never a bare "0%"
    assert re.search(r'<td class="num">(<|&lt;)?\d+%</td>', row)
    singapore = next(d for d in dots() if d.code == "SG")
    dot = re.compile(
        f'<circle cx="{singapore.x}" cy="{singapore.y}" r="4" class="l[1-5]">'
        "<title>Singapore</title></circle>"
    )
    world = httpx.get(f"{outage_site.url}/map", params={"service": "steam"}).text
    assert dot.search(page) and dot.search(world)
    assert page.count("<circle") == 1  # small countries without reports are not drawn
    fr = httpx.get(f"{outage_site.url}/services/steam", cookies={"lang": "fr"}).text
    assert "<title>Singapour</title></circle>" in fr


def test_a_vendor_page_never_read_says_so_in_one_line(outage_site: Site) -> None:
    node, now = outage_site.node, outage_site.clock.now()
    vendor_store.upsert_source(
        node.engine, VendorSource("zoom", "statuspage", "https://status.zoom.example"), now=now
    )
    never = VendorState(
        "zoom", "unknown", "The vendor's page has not been read yet", stale=True, error="timeout"
    )
    vendor_store.record(
        node.engine, never, now=now, etag=None, last_modified=None, failures=1, next_poll_at=now
    )
    page = httpx.get(f"{outage_site.url}/services/zoom").text
    said = page.split('id="vendor-h"', 1)[1].split("</section>", 1)[0]
    assert "Their status page could not be read yet." in said
    for contradiction in ("unknown", "last known state", "not been read"):
        assert contradiction not in said
    fr = httpx.get(f"{outage_site.url}/services/zoom", cookies={"lang": "fr"}).text
    assert "Leur page d’état n’a pas encore pu être lue." in fr
