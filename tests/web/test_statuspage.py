"""The Statuspage v2 read API, against a real server: the shapes of real vendors' payloads, and
what panne's incidents and statuses become in them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.web.incident_rows import T0, store, store_probe_incident

from panne.store import incidents as incident_store
from panne.store import maintenance as maintenance_store
from panne.store import status_updates as update_store
from panne.web.statuspage_shapes import short_id

Server = Any
FIXTURES = Path(__file__).parent / "fixtures" / "statuspage"
SUMMARY = json.loads((FIXTURES / "instructure-summary.json").read_text(encoding="utf-8"))
INCIDENTS = json.loads((FIXTURES / "github-incidents.json").read_text(encoding="utf-8"))
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
COMPONENT_STATUSES = {
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
IMPACTS = {"none", "minor", "major", "critical"}
BASE = "https://panne.example"


@pytest.fixture
def srv(make_server: Callable[..., Server]) -> Server:
    return make_server(rate_limit=False, base_url=BASE)


def get(srv: Server, path: str) -> Any:
    r = httpx.get(f"{srv.url}{path}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    return r.json()


def keys(obj: dict[str, Any]) -> set[str]:
    return set(obj)


def _real_component(*, group: bool) -> dict[str, Any]:
    return next(c for c in SUMMARY["components"] if c["group"] is group)


def check_component(c: dict[str, Any]) -> None:
    assert keys(c) == keys(_real_component(group=c["group"]))
    assert c["status"] in COMPONENT_STATUSES
    assert STAMP.match(c["created_at"]) and STAMP.match(c["updated_at"])


def check_incident(inc: dict[str, Any]) -> None:
    real = INCIDENTS["incidents"][0]
    assert keys(inc) == keys(real)
    assert keys(SUMMARY["incidents"][0]) <= keys(inc)  # the 2021 shape, before reminder_intervals
    assert inc["status"] in INCIDENT_STATUSES and inc["impact"] in IMPACTS
    for field in ("created_at", "updated_at", "started_at"):
        assert STAMP.match(inc[field])
    assert inc["resolved_at"] is None or STAMP.match(inc["resolved_at"])
    for comp in inc["components"]:
        check_component(comp)
    real_update = real["incident_updates"][0]
    for update in inc["incident_updates"]:
        assert keys(update) == keys(real_update)
        assert update["status"] in INCIDENT_STATUSES and update["incident_id"] == inc["id"]
        assert update["body"]
        for affected in update["affected_components"] or []:
            assert keys(affected) == keys(real_update["affected_components"][0])
            assert {affected["old_status"], affected["new_status"]} <= COMPONENT_STATUSES


def check_page(body: dict[str, Any]) -> None:
    assert keys(body["page"]) == keys(SUMMARY["page"])
    assert body["page"]["time_zone"] == "Etc/UTC" and STAMP.match(body["page"]["updated_at"])


def test_every_endpoint_has_the_keys_of_real_statuspage_payloads(srv: Server) -> None:
    store(srv.node, "facebook-1", events=[("opened", T0 + 180), ("resolved", T0 + 3600)])
    store(srv.node, "instagram-1", service="instagram", severity="minor")
    store(srv.node, "whatsapp-1", service="whatsapp")
    store(
        srv.node,
        "meta-1",
        kind="group",
        title="Meta: Instagram, Messenger, WhatsApp",
        events=[("opened", T0 + 200, ["instagram", "messenger"]), ("member_added", T0 + 400)],
        members=["instagram", "messenger", "whatsapp"],
    )
    for prefix in ("/api/v2", "/groups/meta/api/v2"):
        summary = get(srv, f"{prefix}/summary.json")
        assert keys(summary) == keys(SUMMARY)
        check_page(summary)
        assert keys(summary["status"]) == keys(SUMMARY["status"])
        assert summary["status"]["indicator"] in IMPACTS
        for comp in summary["components"]:
            check_component(comp)
        assert {i["id"] for i in summary["incidents"]} == {"instagram-1", "whatsapp-1", "meta-1"}
        listed = get(srv, f"{prefix}/incidents.json")
        assert keys(listed) == keys(INCIDENTS)
        check_page(listed)
        assert len(listed["incidents"]) == 4
        for inc in listed["incidents"]:
            check_incident(inc)
        assert keys(get(srv, f"{prefix}/status.json")) == {"page", "status"}
        assert keys(get(srv, f"{prefix}/components.json")) == {"page", "components"}
        assert keys(get(srv, f"{prefix}/incidents/unresolved.json")) == {"page", "incidents"}
        for path in ("", "/upcoming", "/active"):
            body = get(srv, f"{prefix}/scheduled-maintenances{path}.json")
            assert body["scheduled_maintenances"] == [] and keys(body["page"]) == keys(
                SUMMARY["page"]
            )
    group = next(i for i in get(srv, "/api/v2/incidents.json")["incidents"] if i["id"] == "meta-1")
    assert [u["status"] for u in group["incident_updates"]] == ["investigating", "investigating"]
    added, opened = group["incident_updates"]  # newest first
    assert added["body"].startswith("Now also affected: WhatsApp")
    assert [a["name"] for a in opened["affected_components"]] == [
        "Meta - Instagram",
        "Meta - Messenger",
    ]
    assert {c["name"] for c in group["components"]} == {"Instagram", "Messenger", "WhatsApp"}


def test_an_outage_makes_its_component_non_operational(srv: Server) -> None:
    calm = get(srv, "/api/v2/summary.json")
    assert calm["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert {c["status"] for c in calm["components"]} == {"operational"}

    store(srv.node, "facebook-1", severity="major")
    summary = get(srv, "/api/v2/summary.json")
    by_name = {c["name"]: c for c in summary["components"]}
    fb, meta = by_name["Facebook"], by_name["Meta"]
    assert fb["status"] == "major_outage" and fb["id"] == short_id("component", "facebook")
    assert meta["group"] is True and meta["status"] == "major_outage"
    assert fb["group_id"] == meta["id"] and fb["id"] in meta["components"]
    assert by_name["YouTube"]["status"] == "operational"
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    inc = summary["incidents"][0]
    assert inc["status"] == "investigating" and inc["impact"] == "major"
    assert inc["shortlink"] == f"{BASE}/incidents/facebook-1"
    assert inc["started_at"] == "2024-03-05T15:10:00.000Z"
    assert inc["created_at"] == "2024-03-05T15:13:00.000Z"
    update = inc["incident_updates"][0]
    assert update["affected_components"] == [
        {
            "code": fb["id"],
            "name": "Meta - Facebook",
            "old_status": "operational",
            "new_status": "major_outage",
        }
    ]
    assert "United States" in update["body"] and "Login 76%" in update["body"]

    store(srv.node, "youtube-1", service="youtube", group="google", severity="critical")
    status = get(srv, "/api/v2/status.json")["status"]
    assert status == {"indicator": "critical", "description": "Major Service Outage"}


def test_a_minor_incident_is_a_partial_outage(srv: Server) -> None:
    store(srv.node, "facebook-1", severity="minor")
    body = get(srv, "/api/v2/components.json")
    fb = next(c for c in body["components"] if c["name"] == "Facebook")
    assert fb["status"] == "partial_outage"
    status = get(srv, "/api/v2/status.json")["status"]
    assert status == {"indicator": "minor", "description": "Minor Service Outage"}


def test_a_resolved_incident_leaves_unresolved_empty(srv: Server) -> None:
    store(srv.node, "facebook-1", events=[("opened", T0 + 180), ("resolved", T0 + 3600)])
    assert get(srv, "/api/v2/incidents/unresolved.json")["incidents"] == []
    assert get(srv, "/api/v2/summary.json")["incidents"] == []
    (inc,) = get(srv, "/api/v2/incidents.json")["incidents"]
    assert inc["status"] == "resolved" and inc["resolved_at"] == "2024-03-05T15:55:00.000Z"
    newest, first = inc["incident_updates"]
    assert newest["status"] == "resolved" and first["status"] == "investigating"
    assert newest["affected_components"][0]["old_status"] == "major_outage"
    assert newest["affected_components"][0]["new_status"] == "operational"
    assert get(srv, "/api/v2/status.json")["status"]["indicator"] == "none"


def test_an_incident_opened_on_probes_reads_as_failing_checks(srv: Server) -> None:
    cause = ("Connection refused by discord.com", "Connexion refusée par discord.com")
    store_probe_incident(srv.node, cause=cause, resolved_at=T0 + 1500)
    (inc,) = get(srv, "/api/v2/incidents.json")["incidents"]
    check_incident(inc)
    resolved, opened = (u["body"] for u in inc["incident_updates"])
    assert opened == (
        "panne's checks of Discord fail: connection refused by discord.com."
        " No surge of problem reports so far."
    )
    assert resolved == "panne's checks of Discord pass again. Resolved."


def test_a_group_page_lists_only_that_groups_components_and_incidents(srv: Server) -> None:
    store(srv.node, "youtube-1", service="youtube", group="google")
    store(srv.node, "facebook-1")
    everything = get(srv, "/api/v2/components.json")
    meta = get(srv, "/groups/meta/api/v2/components.json")
    names = {c["name"] for c in meta["components"]}
    assert {"Facebook", "Instagram", "WhatsApp"} <= names and "YouTube" not in names
    assert all(not c["group"] and c["group_id"] is None for c in meta["components"])
    assert len(meta["components"]) < len(everything["components"])
    assert meta["page"]["id"] != everything["page"]["id"]
    assert meta["page"]["url"] == f"{BASE}/status/meta"  # the page people read
    ids = [i["id"] for i in get(srv, "/groups/meta/api/v2/incidents.json")["incidents"]]
    assert ids == ["facebook-1"]
    r = httpx.get(f"{srv.url}/groups/nope/api/v2/summary.json")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_the_api_is_described_in_openapi_under_its_tag(srv: Server) -> None:
    paths = get(srv, "/api/openapi.json")["paths"]
    op = paths["/api/v2/summary.json"]["get"]
    assert op["tags"] == ["statuspage"]
    assert "/groups/{group}/api/v2/incidents/unresolved.json" in paths


@pytest.mark.slow
def test_a_detected_outage_reads_like_a_vendors_outage(outage_site: Server) -> None:
    """The real path: simulated reports, the detector, incidents, then the Statuspage API."""
    summary = get(outage_site, "/api/v2/summary.json")
    by_name = {c["name"]: c for c in summary["components"]}
    assert by_name["Facebook"]["status"] in {"partial_outage", "major_outage"}
    assert by_name["Meta"]["status"] in {"partial_outage", "major_outage"}
    assert by_name["WhatsApp"]["status"] in {"operational", "degraded_performance"}
    assert summary["status"]["indicator"] in {"minor", "major", "critical"}
    names = [i["name"] for i in summary["incidents"]]
    # One incident for the company's outage, its members as components, as a vendor's page.
    assert any(n.startswith("Meta: ") for n in names) and "Facebook" not in names
    for inc in summary["incidents"]:
        check_incident(inc)
        assert inc["incident_updates"][-1]["body"].startswith("panne is seeing a surge")
    meta = get(outage_site, "/groups/meta/api/v2/summary.json")
    assert {i["id"] for i in meta["incidents"]} == {i["id"] for i in summary["incidents"]}


MAINTENANCES = json.loads(
    (FIXTURES / "payfast-scheduled-maintenances.json").read_text(encoding="utf-8")
)


def test_maintenances_have_the_shape_of_a_real_pages(srv: Server) -> None:
    """A real page's maintenance (recorded from Payfast's) has the impact "maintenance" and at
    least one update in the maintenance words, each moving its component."""
    now = int(srv.node.clock.now())
    planned = now - 86_400
    maintenance_store.add(srv.node.engine, "facebook", now - 7200, now - 3600, "Done", planned)
    maintenance_store.add(srv.node.engine, "instagram", now - 600, now + 600, "Now", planned)
    maintenance_store.add(srv.node.engine, "threads", now + 3600, now + 7200, "Soon", planned)
    body = get(srv, "/api/v2/scheduled-maintenances.json")
    real = MAINTENANCES["scheduled_maintenances"][0]
    assert keys(body) == keys(MAINTENANCES) and keys(body["page"]) == keys(MAINTENANCES["page"])
    by_name = {m["name"]: m for m in body["scheduled_maintenances"]}
    moves = {
        "scheduled": ("operational", "operational"),
        "in_progress": ("operational", "under_maintenance"),
        "completed": ("under_maintenance", "operational"),
    }
    for entry in by_name.values():
        assert keys(entry) == keys(real)
        assert entry["impact"] == real["impact"] == "maintenance"
        assert entry["incident_updates"], "every maintenance says something"
        for update in entry["incident_updates"]:
            assert keys(update) == keys(real["incident_updates"][0])
            assert update["incident_id"] == entry["id"] and STAMP.match(update["created_at"])
            [affected] = update["affected_components"]
            assert keys(affected) == keys(real["incident_updates"][0]["affected_components"][0])
            assert (affected["old_status"], affected["new_status"]) == moves[update["status"]]
        for comp in entry["components"]:
            assert keys(comp) == keys(real["components"][0])
    steps = {n: [u["status"] for u in m["incident_updates"]] for n, m in by_name.items()}
    assert steps == {  # newest first
        "Done": ["completed", "in_progress", "scheduled"],
        "Now": ["in_progress", "scheduled"],
        "Soon": ["scheduled"],
    }
    done = by_name["Done"]
    assert done["incident_updates"][0]["body"] == real["incident_updates"][0]["body"]
    assert done["resolved_at"] == done["updated_at"] == done["scheduled_until"]
    assert by_name["Now"]["resolved_at"] is None
    assert by_name["Now"]["incident_updates"][0]["affected_components"][0]["name"] == (
        "Meta - Instagram"
    )


def test_a_service_under_maintenance_is_under_maintenance_unless_an_outage_is_open(
    srv: Server,
) -> None:
    now = int(srv.node.clock.now())
    maintenance_store.add(srv.node.engine, "whatsapp", now - 600, now + 600, "Upgrade", now)
    maintenance_store.add(srv.node.engine, "youtube", now + 600, now + 1200, "Later", now)
    calm = get(srv, "/groups/meta/api/v2/summary.json")
    by_name = {c["name"]: c for c in calm["components"]}
    assert by_name["WhatsApp"]["status"] == "under_maintenance"
    assert by_name["Facebook"]["status"] == "operational"
    assert calm["status"] == {"indicator": "none", "description": "Service Under Maintenance"}
    whole = {c["name"]: c for c in get(srv, "/api/v2/components.json")["components"]}
    assert whole["Meta"]["status"] == "under_maintenance"  # its worst member
    assert whole["YouTube"]["status"] == "operational"  # not begun yet

    maintenance_store.add(srv.node.engine, "facebook", now - 600, now + 600, "Work", now)
    store(srv.node, "facebook-1", severity="major")  # people cannot use it: an outage still
    busy = {c["name"]: c for c in get(srv, "/api/v2/components.json")["components"]}
    assert busy["Facebook"]["status"] == "major_outage"
    assert busy["Meta"]["status"] == "major_outage"
    assert get(srv, "/api/v2/status.json")["status"]["indicator"] == "major"


def test_updates_in_one_second_are_listed_newest_first_by_id(srv: Server) -> None:
    store(srv.node, "facebook-1", events=[("opened", T0 + 180)])
    for word in ("first", "second", "third"):  # one second, written in this order
        update_store.add(srv.node.engine, "facebook-1", "identified", word, "ops", T0 + 180)
    (inc,) = get(srv, "/api/v2/incidents.json")["incidents"]
    bodies = [u["body"] for u in inc["incident_updates"]]
    assert bodies[:3] == ["third", "second", "first"]
    assert bodies[3].startswith("panne is seeing a surge")  # what the operators answered


def test_a_component_keeps_its_creation_time_as_the_minutes_pass(srv: Server) -> None:
    def created() -> dict[str, str]:
        body = get(srv, "/api/v2/components.json")
        return {c["name"]: c["created_at"] for c in body["components"]}

    for _ in range(2):
        r = httpx.post(
            f"{srv.url}/api/v1/reports", json={"service": "facebook", "problem": "login"}
        )
        assert r.status_code == 202, r.text
        first = created()
        srv.node.clock.advance(180)
        assert created() == first
    assert first["Facebook"] == first["Meta"] == first["YouTube"]  # the first minute counted


def test_a_company_outage_is_one_incident_with_its_members_as_components(srv: Server) -> None:
    """As a vendor's page shows one incident over several components, not one per service."""
    parent = store(
        srv.node,
        "meta-1",
        kind="group",
        title="Meta: Facebook, Instagram",
        members=["facebook", "instagram"],
    )
    for slug in ("facebook", "instagram"):
        child = store(srv.node, f"{slug}-1", service=slug)
        with srv.node.engine.begin() as conn:
            incident_store.save(conn, replace(child, parent_id=parent.id))
    update_store.add(srv.node.engine, "facebook-1", "identified", "Login fix", "ops", T0 + 300)
    for prefix in ("/api/v2", "/groups/meta/api/v2"):
        (inc,) = get(srv, f"{prefix}/incidents/unresolved.json")["incidents"]
        assert inc["id"] == "meta-1" and inc["status"] == "identified"
        assert {c["name"] for c in inc["components"]} == {"Facebook", "Instagram"}
        assert inc["incident_updates"][0]["body"] == "Login fix"  # written on a member
        assert [i["id"] for i in get(srv, f"{prefix}/incidents.json")["incidents"]] == ["meta-1"]
    by_name = {c["name"]: c for c in get(srv, "/api/v2/components.json")["components"]}
    assert by_name["Facebook"]["status"] == by_name["Instagram"]["status"] == "major_outage"
