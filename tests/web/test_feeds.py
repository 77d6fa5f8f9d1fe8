"""RSS 2.0 and Atom feeds of incidents, against a real server."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.web.incident_rows import T0, store, store_probe_incident

Server = Any
ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://panne.example"


@pytest.fixture
def srv(make_server: Callable[..., Server]) -> Server:
    return make_server(rate_limit=False, base_url=BASE)


def fetch(srv: Server, path: str, media_type: str) -> tuple[bytes, ET.Element]:
    r = httpx.get(f"{srv.url}{path}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == media_type
    assert r.headers["cache-control"] == "max-age=60"
    return r.content, ET.fromstring(r.content)


def rss_items(srv: Server, path: str) -> list[ET.Element]:
    _, root = fetch(srv, path, "application/rss+xml")
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None and channel.findtext("title")
    self_link = channel.find(f"{ATOM}link")
    assert self_link is not None and self_link.get("href") == f"{BASE}{path}"
    return channel.findall("item")


def atom_entries(srv: Server, path: str) -> list[ET.Element]:
    _, root = fetch(srv, path, "application/atom+xml")
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.findtext(f"{ATOM}{required}")
    return root.findall(f"{ATOM}entry")


def test_a_stored_incident_is_listed_with_its_link(srv: Server) -> None:
    store(srv.node, "facebook-1", events=[("opened", T0 + 180), ("resolved", T0 + 3600)])
    link = f"{BASE}/incidents/facebook-1"

    (item,) = rss_items(srv, "/feeds/incidents.rss")
    assert item.findtext("title") == "Facebook"
    assert item.findtext("link") == link and item.findtext("guid") == link
    assert item.findtext("pubDate") == "Tue, 05 Mar 2024 15:13:00 GMT"  # detected
    summary = item.findtext("description") or ""
    assert "since 15:10 UTC on 5 March 2024" in summary and "United States" in summary
    assert "Login 76%" in summary and "Resolved" in summary

    (entry,) = atom_entries(srv, "/feeds/incidents.atom")
    assert entry.findtext(f"{ATOM}id") == link
    alternate = entry.find(f"{ATOM}link")
    assert alternate is not None and alternate.get("href") == link
    assert entry.findtext(f"{ATOM}published") == "2024-03-05T15:13:00Z"
    assert entry.findtext(f"{ATOM}updated") == "2024-03-05T16:10:00Z"  # the resolution
    assert "Resolved" in (entry.findtext(f"{ATOM}summary") or "")


def test_an_ongoing_incident_says_so(srv: Server) -> None:
    store(srv.node, "facebook-1")
    (item,) = rss_items(srv, "/feeds/incidents.rss")
    assert (item.findtext("description") or "").endswith("Ongoing.")


DNS = (
    "DNS resolution fails for discord.com from this node",
    "La résolution DNS de discord.com échoue depuis ce nœud",
)


def test_an_incident_opened_on_probes_is_told_as_failing_checks(srv: Server) -> None:
    """It was "Problem reports for Discord … Peak: 0 reports a minute, 0.0 times the usual"."""
    store_probe_incident(srv.node, cause=DNS)
    (item,) = rss_items(srv, "/feeds/services/discord.rss")
    assert item.findtext("description") == (
        "panne's checks of Discord fail: DNS resolution fails for discord.com from this node,"
        " since 15:10 UTC on 5 March 2024 (detected at 15:13 UTC)."
        " No surge of problem reports so far. Ongoing."
    )


def test_a_probe_incident_without_a_stored_cause_names_its_probes(srv: Server) -> None:
    store_probe_incident(srv.node, resolved_at=T0 + 1500)
    store_probe_incident(
        srv.node, "discord-p1709650000", resolved_at=T0 + 600, superseded_by="discord-1709651700"
    )
    said = sorted(i.findtext("description") or "" for i in rss_items(srv, "/feeds/incidents.rss"))
    handed_over, later = sorted(said, key=lambda text: "Resolved" in text)
    assert later.startswith(
        "panne's checks of Discord fail: probes discord-dns and discord-web are down, since"
    )
    assert later.endswith(
        "Resolved: the checks passed again at 15:35 UTC on 5 March 2024, after 25 min."
    )
    assert handed_over.endswith(
        "Problem reports followed: the incident goes on as discord-1709651700."
    )
    for text in (later, handed_over):
        assert "reports a minute" not in text and "times the usual" not in text


def test_a_service_feed_excludes_other_services_incidents(srv: Server) -> None:
    store(srv.node, "facebook-1")
    store(srv.node, "youtube-1", service="youtube", group="google", started_at=T0 + 60)
    store(
        srv.node,
        "meta-1",
        kind="group",
        title="Meta: Facebook, Instagram",
        members=["facebook", "instagram"],
    )
    ids = [i.findtext("guid") for i in rss_items(srv, "/feeds/services/youtube.rss")]
    assert ids == [f"{BASE}/incidents/youtube-1"]
    fb = {e.findtext(f"{ATOM}id") for e in atom_entries(srv, "/feeds/services/facebook.atom")}
    assert fb == {f"{BASE}/incidents/facebook-1", f"{BASE}/incidents/meta-1"}  # and its company's
    meta = {i.findtext("guid") for i in rss_items(srv, "/feeds/groups/meta.rss")}
    assert meta == {f"{BASE}/incidents/facebook-1", f"{BASE}/incidents/meta-1"}


def test_a_hostile_title_is_escaped_and_round_trips(srv: Server) -> None:
    title = "<script>alert(1)</script> & co"
    store(srv.node, "facebook-1", title=title)
    for path, media_type, find in (
        ("/feeds/incidents.rss", "application/rss+xml", "channel/item/title"),
        ("/feeds/incidents.atom", "application/atom+xml", f"{ATOM}entry/{ATOM}title"),
    ):
        raw, root = fetch(srv, path, media_type)
        assert b"<script>" not in raw and b"&lt;script&gt;" in raw and b"&amp; co" in raw
        assert root.findtext(find) == title


def test_the_statuspage_history_feeds_are_the_same_feeds(srv: Server) -> None:
    store(srv.node, "facebook-1")
    assert len(rss_items(srv, "/api/v2/history.rss")) == 1
    assert len(atom_entries(srv, "/api/v2/history.atom")) == 1
    assert len(atom_entries(srv, "/groups/meta/api/v2/history.atom")) == 1
    assert atom_entries(srv, "/groups/google/api/v2/history.atom") == []


@pytest.mark.parametrize(
    "path",
    ["/feeds/services/nope.rss", "/feeds/groups/nope.atom", "/groups/nope/api/v2/history.rss"],
)
def test_an_unknown_service_or_group_is_a_404_problem(srv: Server, path: str) -> None:
    r = httpx.get(f"{srv.url}{path}")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
