"""RSS 2.0 and Atom feeds of incidents: for feed readers, chat integrations that follow feeds, and
the aggregators that read a status page's ``history.rss`` / ``history.atom``.

The XML is built as an ElementTree, never by concatenating strings, so a title such as
``<script>&`` comes out escaped whatever it holds. Items are linked by the incident's public URL,
which is also their guid / id: it is stable, so readers do not show an item twice as it updates.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import format_datetime

from fastapi import APIRouter, Request, Response

from panne.clock import iso_utc, utc
from panne.node import Node
from panne.store import incidents as incident_store
from panne.store.incidents import IncidentRecord
from panne.web.incident_text import incident_summary
from panne.web.problems import unknown_group, unknown_service

ATOM_NS = "http://www.w3.org/2005/Atom"
RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"
FEED_ITEMS = 50
CACHE_CONTROL = "max-age=60"  # the detector judges every ten seconds; readers poll for minutes
ET.register_namespace("atom", ATOM_NS)  # RSS's atom:link rel="self", instead of "ns0:"


@dataclass(frozen=True)
class Feed:
    """One feed: what it is about and the incidents it lists, newest first."""

    title: str
    description: str
    home: str  # the page the feed is about
    self_url: str
    records: list[IncidentRecord]


@dataclass(frozen=True)
class Item:
    record: IncidentRecord
    link: str
    summary: str
    updated: float  # the last timeline event: what readers treat as news


def _items(node: Node, feed: Feed) -> list[Item]:
    base = node.settings.public_url()
    out = []
    for rec in feed.records:
        events = incident_store.timeline(node.engine, rec.id)
        updated = max((e.at for e in events), default=rec.updated_at or rec.detected_at)
        summary = incident_summary(rec, node.catalog)
        out.append(Item(rec, f"{base}/incidents/{rec.id}", summary, updated))
    return out


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def render_rss(node: Node, feed: Feed) -> bytes:
    items = _items(node, feed)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", feed.title)
    _sub(channel, "link", feed.home)
    _sub(channel, "description", feed.description)
    _sub(channel, "language", "en")
    built = max((i.updated for i in items), default=node.clock.now())
    _sub(channel, "lastBuildDate", format_datetime(utc(built), usegmt=True))
    _sub(channel, "ttl", "1")
    _sub(channel, f"{{{ATOM_NS}}}link", href=feed.self_url, rel="self", type=RSS_TYPE)
    for item in items:
        el = _sub(channel, "item")
        _sub(el, "title", item.record.title)
        _sub(el, "link", item.link)
        _sub(el, "guid", item.link, isPermaLink="true")
        _sub(el, "pubDate", format_datetime(utc(item.record.detected_at), usegmt=True))
        _sub(el, "description", item.summary)
        _sub(el, "category", "resolved" if item.record.status == "resolved" else "ongoing")
    out: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return out


def render_atom(node: Node, feed: Feed) -> bytes:
    items = _items(node, feed)
    # The namespace as a plain attribute: ElementTree then writes un-prefixed Atom elements
    # (its default_namespace option refuses the un-prefixed attributes Atom uses).
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(root, "title", feed.title)
    _sub(root, "subtitle", feed.description)
    _sub(root, "id", feed.self_url)
    updated = max((i.updated for i in items), default=node.clock.now())
    _sub(root, "updated", iso_utc(updated))
    _sub(root, "link", href=feed.self_url, rel="self", type=ATOM_TYPE)
    _sub(root, "link", href=feed.home, rel="alternate", type="text/html")
    _sub(_sub(root, "author"), "name", "panne")
    for item in items:
        entry = _sub(root, "entry")
        _sub(entry, "title", item.record.title)
        _sub(entry, "id", item.link)
        _sub(entry, "link", href=item.link, rel="alternate", type="text/html")
        _sub(entry, "published", iso_utc(item.record.detected_at))
        _sub(entry, "updated", iso_utc(item.updated))
        _sub(entry, "summary", item.summary, type="text")
    out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return out


RENDERERS: dict[str, tuple[Callable[[Node, Feed], bytes], str]] = {
    "rss": (render_rss, RSS_TYPE),
    "atom": (render_atom, ATOM_TYPE),
}


def _answer(node: Node, feed: Feed, fmt: str) -> Response:
    render, media_type = RENDERERS[fmt]
    return Response(
        render(node, feed), media_type=media_type, headers={"Cache-Control": CACHE_CONTROL}
    )


def all_feed(node: Node, path: str) -> Feed:
    base = node.settings.public_url()
    records, _ = incident_store.query(node.engine, limit=FEED_ITEMS)
    return Feed("panne: incidents", "Outages panne detected", base, base + path, records)


def service_feed(node: Node, slug: str, path: str) -> Feed:
    svc = node.catalog.services.get(slug)
    if svc is None:
        raise unknown_service(slug)
    base = node.settings.public_url()
    # The service's own incidents and the company-wide ones it is a member of.
    records, _ = incident_store.query(node.engine, service=slug, limit=FEED_ITEMS)
    return Feed(
        f"panne: {svc.name} incidents",
        f"Outages of {svc.name} that panne detected",
        f"{base}/services/{slug}",
        base + path,
        records,
    )


def group_feed(node: Node, slug: str, path: str) -> Feed:
    group = node.catalog.groups.get(slug)
    if group is None:
        raise unknown_group(slug, 404)
    base = node.settings.public_url()
    records, _ = incident_store.query(node.engine, group=slug, limit=FEED_ITEMS)
    return Feed(
        f"panne: {group.name} incidents",
        f"Outages of {group.name}'s services that panne detected",
        f"{base}/groups/{slug}",
        base + path,
        records,
    )


def build_router(node: Node) -> APIRouter:
    router = APIRouter(tags=["feeds"])
    for fmt in RENDERERS:
        _add_routes(router, node, fmt)
    return router


def _add_routes(router: APIRouter, node: Node, fmt: str) -> None:
    kind = {"rss": "RSS 2.0", "atom": "Atom"}[fmt]
    ok: dict[int | str, dict[str, object]] = {
        200: {"content": {RENDERERS[fmt][1]: {}}, "description": f"An {kind} feed"}
    }

    @router.get(f"/feeds/incidents.{fmt}", summary=f"All incidents ({kind})", responses=ok)
    @router.get(f"/api/v2/history.{fmt}", summary=f"Statuspage history ({kind})", responses=ok)
    def everything(request: Request) -> Response:
        return _answer(node, all_feed(node, request.url.path), fmt)

    @router.get(
        f"/feeds/services/{{slug}}.{fmt}", summary=f"A service's incidents ({kind})", responses=ok
    )
    def service(slug: str, request: Request) -> Response:
        return _answer(node, service_feed(node, slug, request.url.path), fmt)

    @router.get(
        f"/feeds/groups/{{slug}}.{fmt}", summary=f"A group's incidents ({kind})", responses=ok
    )
    @router.get(
        f"/groups/{{slug}}/api/v2/history.{fmt}", summary=f"Group history ({kind})", responses=ok
    )
    def group(slug: str, request: Request) -> Response:
        return _answer(node, group_feed(node, slug, request.url.path), fmt)
