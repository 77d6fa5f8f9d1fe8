"""Vendors' incident feeds, RSS 2.0 and Atom, read as a status.

Many vendors publish no Statuspage JSON but do publish an incident history feed (Statuspage's own
``history.rss`` and ``history.atom`` included). A feed says what happened, not what the status
is, so the status is inferred: an item newer than ``open_hours`` whose title and summary do not
say *resolved*, *completed* or *postmortem* is an open incident; any open incident makes the
service ``warn`` (``maintenance`` when every open item speaks of maintenance), since a feed
rarely says how bad things are. Items without a readable date are shown nowhere: their age is
unknown, so they can neither open nor close anything.

The XML comes from outside and is parsed with ``defusedxml``: entity declarations (the
"billion laughs" bomb), external entities and external DTDs are refused rather than expanded or
fetched; a plain DOCTYPE line, which old feeds carry, is allowed.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from panne.signals.vendor_status import (
    MAX_BODY_CHARS,
    MAX_INCIDENTS,
    Reading,
    StateName,
    VendorIncident,
    VendorParseError,
    parse_time,
)

ATOM = "{http://www.w3.org/2005/Atom}"
DC_DATE = "{http://purl.org/dc/elements/1.1/}date"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
MAX_ITEMS = 50  # feeds list history newest first; older items cannot be open anyway
_CLOSED = re.compile(r"\b(resolved|completed|postmortem)\b", re.IGNORECASE)
_MAINTENANCE = re.compile(r"\bmaintenance\b", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_BEFORE_PUNCTUATION = re.compile(r" ([,.;:!?])")


@dataclass(frozen=True, slots=True)
class FeedItem:
    title: str
    link: str
    at: float | None  # updated, else published; epoch seconds
    summary: str  # plain text


def _plain(text: str | None) -> str:
    """Feed summaries are HTML carried as text: drop the tags, keep the words."""
    if not text:
        return ""
    words = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()
    return _BEFORE_PUNCTUATION.sub(r"\1", words)  # "5</var>," became "5 ,"


def _rss_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return parse_time(text.strip())  # some feeds write ISO 8601 in pubDate
    if when.tzinfo is None:  # RFC 822 "-0000": UTC, origin unknown
        return when.replace(tzinfo=UTC).timestamp()
    return when.timestamp()


def _rss_items(root: Element) -> list[FeedItem]:
    channel = root.find("channel")
    if channel is None:
        raise VendorParseError("RSS feed has no <channel>")
    items = []
    for item in channel.findall("item")[:MAX_ITEMS]:
        when = _rss_time(item.findtext("pubDate")) or parse_time(item.findtext(DC_DATE))
        summary = item.findtext("description") or item.findtext(CONTENT)
        items.append(
            FeedItem(
                _plain(item.findtext("title"))[:500],
                (item.findtext("link") or "").strip()[:2000],
                when,
                _plain(summary),
            )
        )
    return items


def _atom_link(entry: Element) -> str:
    links = entry.findall(f"{ATOM}link")
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return (link.get("href") or "")[:2000]
    return (links[0].get("href") or "")[:2000] if links else ""


def _atom_items(root: Element) -> list[FeedItem]:
    items = []
    for entry in root.findall(f"{ATOM}entry")[:MAX_ITEMS]:
        when = parse_time(entry.findtext(f"{ATOM}updated")) or parse_time(
            entry.findtext(f"{ATOM}published")
        )
        summary = entry.findtext(f"{ATOM}summary") or entry.findtext(f"{ATOM}content")
        items.append(
            FeedItem(
                _plain(entry.findtext(f"{ATOM}title"))[:500],
                _atom_link(entry),
                when,
                _plain(summary),
            )
        )
    return items


def feed_items(body: bytes) -> list[FeedItem]:
    """The items of an RSS 2.0 or Atom document; raises :class:`VendorParseError`."""
    try:
        root = fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise VendorParseError(f"feed refused: {type(exc).__name__} (unsafe XML)") from None
    except ParseError as exc:
        raise VendorParseError(f"feed is not well-formed XML: {exc}") from None
    if root.tag == "rss":
        return _rss_items(root)
    if root.tag == f"{ATOM}feed":
        return _atom_items(root)
    raise VendorParseError(f"feed root is <{root.tag}>: neither RSS 2.0 <rss> nor Atom <feed>")


def is_open(item: FeedItem, *, now: float, open_hours: float) -> bool:
    """Recent and not saying it is over."""
    if item.at is None or item.at < now - open_hours * 3600:
        return False
    return not _CLOSED.search(f"{item.title} {item.summary}")


def parse_feed(
    body: bytes, components: tuple[str, ...] = (), *, now: float, open_hours: float
) -> Reading:
    """Read a feed as a status; items must name a chosen component, when there are any."""
    items = feed_items(body)
    if components:
        keys = [c.casefold() for c in components]
        items = [i for i in items if any(k in f"{i.title} {i.summary}".casefold() for k in keys)]
    opened = [i for i in items if is_open(i, now=now, open_hours=open_hours)]
    if not opened:
        return Reading("up", "No open incident in the feed")
    maintenance = all(_MAINTENANCE.search(f"{i.title} {i.summary}") for i in opened)
    state: StateName = "maintenance" if maintenance else "warn"
    incidents = tuple(
        VendorIncident(
            name=i.title or "(untitled)",
            status="maintenance" if maintenance else "open",
            impact="maintenance" if maintenance else "unknown",
            url=i.link,
            updated_at=i.at,
            body=i.summary[:MAX_BODY_CHARS],
        )
        for i in opened[:MAX_INCIDENTS]
    )
    count = f"{len(opened)} open incident{'s' if len(opened) > 1 else ''}"
    return Reading(state, f"{count}: {opened[0].title}", incidents)
