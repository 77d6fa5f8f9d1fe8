"""Public status pages: components with their state and 90-day uptime, incidents with the
operator's updates (written through the admin API), planned maintenance, history."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from tests.web.conftest import Site

from panne.store import incidents as incident_store
from panne.store import keys
from panne.store import maintenance as maintenance_store
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
    assert "<strong>Login &lt;fix&gt;</strong>" in html
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
    assert "&lt;Games&gt; status" in titled
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
