"""Status badges as SVG, for READMEs and wikis: ``/badges/services/{slug}.svg`` and
``/badges/groups/{slug}.svg`` (a group shows its worst service).

The drawing imitates shields.io's "flat" style so a panne badge sits well beside others: a grey
label, a coloured message, Verdana 11px. SVG has no layout, so the width of each text is
estimated from a small table of Verdana's advance widths and pinned with ``textLength``: the
text always fills exactly the box drawn for it, whatever font the viewer falls back to.

A badge in a busy README is fetched over and over; it is cheap three ways: browsers and image
proxies keep it ``max-age=60``, a matching ``If-None-Match`` gets a bodiless 304, and the rendered
SVG is kept in process, keyed by what is drawn.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from panne.node import Node
from panne.status import STATES, State, all_statuses
from panne.web.problems import unknown_group, unknown_service

MESSAGES: dict[State, str] = {"normal": "operational", "elevated": "elevated", "outage": "outage"}
# Colours dark enough for white 11px text (WCAG AA, 4.5:1): green, amber, red; the label grey.
COLOURS: dict[State, str] = {"normal": "#2e7d32", "elevated": "#9a6700", "outage": "#c62828"}
LABEL_COLOUR = "#555"
MAX_LABEL_CHARS = 40
CACHE_CONTROL = "public, max-age=60"
SVG_TYPE = "image/svg+xml"
# A badge is an image: it needs no script, no fetch, only its own inline attributes.
CSP = "default-src 'none'; style-src 'unsafe-inline'"

# Verdana's advance widths at 11px, in pixels, by classes of look-alike characters; anything
# else (other scripts, symbols) counts as a wide letter, so the box errs on the roomy side.
_WIDTH_CLASSES = (
    (3.0, "ijl'|"),
    (3.9, " f.,:;!`"),
    (4.5, "rt-()[]{}/\\I"),
    (5.0, 'J"*'),
    (5.8, "csz_"),
    (6.6, "abdeghknopquvxy?$0123456789FLPT"),
    (7.4, "ABCEKRSVXYZ#+<=>~&"),
    (8.4, "DGHNOQU"),
    (9.2, "wM%"),
    (10.9, "mW@"),
)
_WIDTHS = {ch: width for width, chars in _WIDTH_CLASSES for ch in chars}
_DEFAULT_WIDTH = 7.4
_WIDE_WIDTH = 11.0  # CJK and other full-width characters: one em
PADDING = 6.0  # on each side of a text


@dataclass(frozen=True, slots=True)
class Badge:
    svg: bytes
    etag: str


def text_width(text: str) -> float:
    """Estimated width of ``text`` in Verdana 11px, in pixels."""
    total = 0.0
    for ch in text:
        width = _WIDTHS.get(ch)
        if width is None:
            wide = unicodedata.east_asian_width(ch) in ("W", "F")
            width = _WIDE_WIDTH if wide else _DEFAULT_WIDTH
        total += width
    return total


def clean(text: str) -> str:
    """Printable characters only: XML 1.0 refuses control characters even when escaped."""
    return "".join(ch for ch in text if ch.isprintable()).strip()


@lru_cache(maxsize=1024)
def render(label: str, state: State) -> Badge:
    """The badge for ``label`` in ``state``, rendered once per (label, state) and kept.

    Keyed by the text drawn rather than by slug, so a renamed service never shows its old name;
    bounded, because ``?label=`` lets anyone ask for new ones.
    """
    message = MESSAGES[state]
    label_w = round(text_width(label) + 2 * PADDING)
    message_w = round(text_width(message) + 2 * PADDING)
    total = label_w + message_w
    title = f"{label}: {message}"
    # Ids of its own, so that badges inlined into one HTML page do not share a clip path.
    uid = hashlib.sha256(title.encode()).hexdigest()[:8]

    def text(x: float, content: str, width: float) -> str:
        x, length = round(x, 1), round(width - 2 * PADDING, 1)
        body = escape(content)
        return (
            f'<text x="{x}" y="15" fill="#010101" fill-opacity=".3" textLength="{length}">'
            f'{body}</text><text x="{x}" y="14" textLength="{length}">{body}</text>'
        )

    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{escape(title, {chr(34): "&quot;"})}">'
        f"<title>{escape(title)}</title>"
        f'<linearGradient id="s{uid}" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r{uid}"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r{uid})"><rect width="{label_w}" height="20" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{label_w}" width="{message_w}" height="20" fill="{COLOURS[state]}"/>'
        f'<rect width="{total}" height="20" fill="url(#s{uid})"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="11">'
        f"{text(label_w / 2, label, label_w)}{text(label_w + message_w / 2, message, message_w)}"
        "</g></svg>"
    ).encode()
    return Badge(svg, f'"{hashlib.sha256(svg).hexdigest()[:20]}"')


def worst(states: list[State]) -> State:
    return max(states, key=STATES.index, default="normal")


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _answer(request: Request, badge: Badge) -> Response:
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": badge.etag}
    if _matches(request.headers.get("if-none-match"), badge.etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Security-Policy"] = CSP
    return Response(badge.svg, media_type=SVG_TYPE, headers=headers)


_SVG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {SVG_TYPE: {}}, "description": "The badge"},
    304: {"description": "Not modified (If-None-Match)"},
    404: {"description": "Unknown slug", "content": {"application/problem+json": {}}},
}
LABEL = Query(
    None, min_length=1, max_length=MAX_LABEL_CHARS, description="Replaces the name on the left"
)


def build_router(node: Node) -> APIRouter:
    router = APIRouter(prefix="/badges", tags=["badges"])

    def states(ids: dict[int, str]) -> list[State]:
        return [s.state for s in all_statuses(node.engine, ids, node.clock.now()).values()]

    @router.get(
        "/services/{slug}.svg",
        summary="A service's status as an SVG badge",
        response_class=Response,
        responses=_SVG_RESPONSE,
    )
    def service_badge(request: Request, slug: str, label: str | None = LABEL) -> Response:
        svc = node.catalog.services.get(slug)
        if svc is None or svc.id is None:
            raise unknown_service(slug)
        state = worst(states({svc.id: svc.slug}))
        return _answer(request, render(clean(label or svc.name) or svc.name, state))

    @router.get(
        "/groups/{slug}.svg",
        summary="A company's status as an SVG badge: its worst service",
        response_class=Response,
        responses=_SVG_RESPONSE,
    )
    def group_badge(request: Request, slug: str, label: str | None = LABEL) -> Response:
        group = node.catalog.groups.get(slug)
        if group is None:
            raise unknown_group(slug, 404)
        ids = {
            s.id: s.slug
            for s in node.catalog.services.values()
            if s.group == slug and s.id is not None
        }
        state = worst(states(ids)) if ids else "normal"
        return _answer(request, render(clean(label or group.name) or group.name, state))

    return router
