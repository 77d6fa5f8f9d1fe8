"""Public status pages: components with their state and 90-day uptime, incidents with the
operator's updates (written through the admin API), planned maintenance, history."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.web.conftest import Site
from tests.web.incident_rows import T0, store

from panne.store import incidents as incident_store
from panne.store import keys
from panne.store import maintenance as maintenance_store
from panne.store import status_updates as update_store
from panne.store.incidents import IncidentRecord
from panne.web.status_page import DAY, uptime_days

FIXTURES = Path(__file__).parent / "fixtures" / "statuspage"


def _incident(iid: str, start: int, end: int | None, severity: str = "major") -> IncidentRecord:
    return IncidentRecord(
        iid, "service", "facebook", "meta", None, "resolved" if end else "open", severity,
        "Facebook", start, start, end, 1.0, 1.0, [], {}, [],
    )  # fmt: skip


def test_uptime_counts_each_day_once_across_overlaps_and_midnight() -> None:
    today = 20 * DAY
    now = today + DAY / 2
    incidents = [
        _incident("a", today - DAY - 3600, today - DAY + 3600, "minor"),  # over midnight
        _incident("b", today - 3 * DAY, today - 3 * DAY + 7200, "major"),
        _incident("c", today - 3 * DAY + 3600, today - 3 * DAY + 10_800, "critical"),  # overlaps
        _incident("d", now - 600, None, "critical"),  # still open
    ]
    days = uptime_days(incidents, "facebook", today, now, 5)
    assert [d.start for d in days] == [today - k * DAY for k in (4, 3, 2, 1, 0)]
    by_start = {d.start: d for d in days}
    three_ago = by_start[today - 3 * DAY]
    assert three_ago.incidents == 2 and three_ago.worst == "critical"
    assert abs(three_ago.uptime - (1 - 10_800 / DAY)) < 1e-9  # 3 h covered, not 4
    assert by_start[today - 2 * DAY].uptime == 1.0 - 3600 / DAY  # the hour after midnight
    assert by_start[today - DAY].worst == "minor" and by_start[today - DAY].incidents == 1
    assert abs(by_start[today].uptime - (1 - 600 / (DAY / 2))) < 1e-9  # today so far
    assert by_start[today - 4 * DAY] == days[0] and days[0].uptime == 1.0
    assert uptime_days(incidents, "instagram", today, now, 5)[-1].uptime == 1.0


def test_a_company_status_page_with_the_operators_updates(outage_site: Site) -> None:
    node = outage_site.node
    group = next(
        r
        for r in incident_store.query(node.engine, active=True, kind="group")[0]
        if r.group == "meta"
    )
    _, key = keys.create(node.engine, "ops team", trusted=True, now_ms=0)
    url = f"{outage_site.url}/api/v1/admin/incidents/{group.id}/updates"
    body = {
        "state": "identified",
        "title": "Login <fix>",
        "body": "Login servers <b>restarting</b> & recovering",
    }
    assert httpx.post(url, json=body).status_code == 401
    r = httpx.post(url, json=body, headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 201 and r.json()["author"] == "ops team"
    bad = httpx.post(
        url, json={"state": "fixed", "body": "x"}, headers={"authorization": f"Bearer {key}"}
    )
    assert bad.status_code == 422
    missing = httpx.post(
        f"{outage_site.url}/api/v1/admin/incidents/nope/updates",
        json=body,
        headers={"authorization": f"Bearer {key}"},
    )
    assert missing.status_code == 404

    page = httpx.get(f"{outage_site.url}/status/meta")
    assert page.status_code == 200
    html = page.text
    assert "Meta status" in html and "Some services have problems" in html
    assert group.title in html
    assert "<strong>Identified</strong>" in html
    assert "Login servers &lt;b&gt;restarting&lt;/b&gt; &amp; recovering" in html
    assert "<strong><bdi>Login &lt;fix&gt;</bdi></strong>" in html
    for name in ("Facebook", "Instagram", "WhatsApp", "Threads"):
        assert f">{name}</a>" in html
    assert html.count('class="uptime"') == 5  # one 90-day bar per Meta service
    assert "uptime over the last 90 days" in html
    api = httpx.get(f"{outage_site.url}/groups/meta/api/v2/incidents/unresolved.json").json()
    listed = next(i for i in api["incidents"] if i["id"] == group.id)
    assert listed["status"] == "identified"  # the operator's word, for Statuspage clients
    assert listed["incident_updates"][0]["body"].startswith("Login <fix>: Login servers <b>")
    fr = httpx.get(f"{outage_site.url}/status/meta", cookies={"lang": "fr"}).text
    assert "État de Meta" in fr and "<strong>Identifié</strong>" in fr


def test_a_chosen_set_of_services_and_unknown_pages(outage_site: Site) -> None:
    page = httpx.get(f"{outage_site.url}/status", params={"services": "steam,whatsapp,nope"})
    assert page.status_code == 200
    assert "All systems operational" in page.text  # neither is down
    assert page.text.count('class="uptime"') == 2
    titled = httpx.get(
        f"{outage_site.url}/status", params={"services": "steam", "title": "<Games>"}
    ).text
    assert "<h1>&lt;Games&gt;</h1>" in titled  # the title given, escaped
    assert '<meta name="robots" content="noindex">' in titled  # anyone's words, not indexed
    spaced = httpx.get(
        f"{outage_site.url}/status",
        params={"services": " steam , WhatsApp ", "title": "  Our\tgames\x00 "},
    ).text
    assert spaced.count('class="uptime"') == 2 and "<h1>Our games</h1>" in spaced
    plain = httpx.get(f"{outage_site.url}/status", params={"services": "steam"}).text
    assert "noindex" not in plain
    assert httpx.get(f"{outage_site.url}/status/nope").status_code == 404
    assert httpx.get(f"{outage_site.url}/status", params={"services": "nope"}).status_code == 404


def test_maintenance_windows_in_the_statuspage_api(outage_site: Site) -> None:
    node, now = outage_site.node, int(outage_site.clock.now())
    maintenance_store.add(node.engine, "instagram", now - 7200, now - 3600, "Old work", now)
    maintenance_store.add(node.engine, "threads", now - 600, now + 600, "Now work", now)
    maintenance_store.add(node.engine, "messenger", now + 3600, now + 7200, "Soon work", now)
    maintenance_store.add(node.engine, "steam", now + 3600, now + 7200, "Not Meta", now)
    base = f"{outage_site.url}/groups/meta/api/v2"

    def names(path: str) -> dict[str, str]:
        body = httpx.get(f"{base}/{path}").json()
        return {m["name"]: m["status"] for m in body["scheduled_maintenances"]}

    assert names("scheduled-maintenances.json") == {
        "Soon work": "scheduled",
        "Now work": "in_progress",
        "Old work": "completed",
    }
    assert names("scheduled-maintenances/upcoming.json") == {"Soon work": "scheduled"}
    assert names("scheduled-maintenances/active.json") == {"Now work": "in_progress"}
    assert names("summary.json") == {"Now work": "in_progress", "Soon work": "scheduled"}
    soon = httpx.get(f"{base}/scheduled-maintenances/upcoming.json").json()
    entry = soon["scheduled_maintenances"][0]
    assert entry["components"][0]["name"] == "Messenger"
    assert entry["scheduled_for"] < entry["scheduled_until"]
    # Statuspage's maintenance is an incident plus its schedule (a recorded real incident).
    incident = json.loads((FIXTURES / "github-incidents.json").read_text())["incidents"][0]
    assert set(entry) == (set(incident) - {"reminder_intervals"}) | {
        "scheduled_for",
        "scheduled_until",
    }


def test_maintenance_in_progress_and_upcoming_each_have_their_list(
    make_server: Callable[..., Any],
) -> None:
    srv = make_server(rate_limit=False)
    node, now = srv.node, int(srv.node.clock.now())
    maintenance_store.add(node.engine, "whatsapp", now - 600, now + 600, "Broker swap", now)
    maintenance_store.add(node.engine, "messenger", now + 3600, now + 7200, "Disk work", now)
    maintenance_store.add(node.engine, "threads", now - 7200, now - 3600, "Long done", now)
    html = httpx.get(f"{srv.url}/status/meta").text
    progress, planned = html.index("Maintenance in progress"), html.index("Planned maintenance")
    assert progress < html.index("Broker swap") < planned < html.index("Disk work")
    assert "Long done" not in html
    assert 'WhatsApp</a>\n  <span class="badge state-maintenance">Under maintenance</span>' in html
    assert "All systems operational" in html  # planned work is not a problem
    fr = httpx.get(f"{srv.url}/status/meta", cookies={"lang": "fr"}).text
    assert "Maintenance en cours" in fr and "En maintenance" in fr

    # An outage during the work is still an outage.
    maintenance_store.add(node.engine, "facebook", now - 600, now + 600, "Login work", now)
    store(node, "facebook-1", severity="major")
    busy = httpx.get(f"{srv.url}/status/meta").text
    assert 'Facebook</a>\n  <span class="badge state-outage">Problems</span>' in busy
    assert "Some services have problems" in busy


def test_a_title_given_is_the_whole_title_and_french_elides_before_a_vowel(
    make_server: Callable[..., Any],
) -> None:
    srv = make_server(rate_limit=False)
    titled = httpx.get(f"{srv.url}/status", params={"services": "steam", "title": "Ops status"})
    assert "<h1>Ops status</h1>" in titled.text and "Ops status status" not in titled.text
    assert "<title>Ops status · panne</title>" in titled.text
    cases = {"amazon": "État d’Amazon", "apple": "État d’Apple", "meta": "État de Meta"}
    for group, heading in cases.items():
        fr = httpx.get(f"{srv.url}/status/{group}", cookies={"lang": "fr"}).text
        assert f"<h1>{heading}</h1>" in fr, group
    fr = httpx.get(f"{srv.url}/status/amazon", cookies={"lang": "fr"}).text
    assert "incidents d’Amazon, mesurés par panne" in fr
    assert "<h1>Amazon status</h1>" in httpx.get(f"{srv.url}/status/amazon").text
    youtube = httpx.get(
        f"{srv.url}/status", params={"services": "youtube"}, cookies={"lang": "fr"}
    ).text
    assert "<h1>État de YouTube</h1>" in youtube


def test_updates_are_newest_first_by_time_then_by_id(make_server: Callable[..., Any]) -> None:
    srv = make_server(rate_limit=False)
    store(srv.node, "facebook-1")
    engine = srv.node.engine
    update_store.add(
        engine, "facebook-1", "identified", "written first, dated later", "a", T0 + 600
    )
    update_store.add(
        engine, "facebook-1", "monitoring", "written second, dated earlier", "b", T0 + 300
    )
    update_store.add(engine, "facebook-1", "monitoring", "same second, written last", "c", T0 + 600)
    html = httpx.get(f"{srv.url}/status/meta").text
    order = [
        html.index(text)
        for text in ("same second, written last", "written first, dated later", "written second")
    ]
    assert order == sorted(order)


def test_a_status_page_is_served_as_rendered_for_a_few_seconds(
    make_server: Callable[..., Any],
) -> None:
    """Its readers, all at once during an outage, cost one render per address and language;
    a change shows once the seconds have passed."""
    srv = make_server(status_page_cache_seconds=1)
    now = int(srv.node.clock.now())
    first = httpx.get(f"{srv.url}/status/meta")
    maintenance_store.add(srv.node.engine, "instagram", now + 3600, now + 7200, "Planned", now)
    again = httpx.get(f"{srv.url}/status/meta")
    assert again.status_code == 200 and again.text == first.text  # the rendered page
    assert again.headers["content-language"] == "en" and "vary" in again.headers
    fr = httpx.get(f"{srv.url}/status/meta", cookies={"lang": "fr"})
    assert "Planned" in fr.text and '<html lang="fr">' in fr.text  # its own render
    live = httpx.get(f"{srv.url}/status/meta", params={"live": "live"})
    assert "Planned" in live.text and "<html" not in live.text  # another address
    deadline = time.monotonic() + 10
    while "Planned" not in httpx.get(f"{srv.url}/status/meta").text:
        assert time.monotonic() < deadline, "the cached page never expired"
        time.sleep(0.2)
