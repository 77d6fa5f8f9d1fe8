"""SVG status badges over real HTTP: what they say, how they are cached, what they escape."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from panne.clock import ManualClock
from panne.store import expectations as expectation_store
from panne.store import incidents as incident_store
from panne.web.badges import COLOURS, LABEL_COLOUR, text_width

Server = Any
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def srv(make_server: Callable[..., Server]) -> Server:
    return make_server()


def badge(srv: Server, path: str, **params: str) -> tuple[ET.Element, httpx.Response]:
    r = httpx.get(f"{srv.url}/badges/{path}", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/svg+xml"
    return ET.fromstring(r.content), r


def texts(svg: ET.Element) -> list[str]:
    """The label and the message, once each (each is drawn twice: shadow, then text)."""
    return [t.text or "" for t in svg.iter(f"{SVG}text")][1::2]


def open_incident(srv: Server, service: str) -> None:
    rec = incident_store.IncidentRecord(
        id=f"inc-{service}",
        kind="service",
        service=service,
        group="meta",
        parent_id=None,
        status="open",
        severity="major",
        title=service,
        started_at=1_709_650_000,
        detected_at=1_709_650_100,
        ended_at=None,
        peak_per_minute=100.0,
        peak_ratio=20.0,
        countries=[],
        problems={},
        members=[],
    )
    with srv.node.engine.begin() as conn:
        incident_store.save(conn, rec)


def test_a_service_badge_is_valid_svg_that_says_operational(srv: Server) -> None:
    svg, r = badge(srv, "services/facebook.svg")
    assert svg.tag == f"{SVG}svg" and svg.get("height") == "20"
    assert texts(svg) == ["Facebook", "operational"]
    assert svg.findtext(f"{SVG}title") == "Facebook: operational"
    assert f'fill="{COLOURS["normal"]}"' in r.text
    assert r.headers["cache-control"] == "public, max-age=60"
    assert r.headers["etag"].startswith('"')


def test_the_badge_says_outage_while_an_incident_is_open(srv: Server) -> None:
    before = badge(srv, "services/facebook.svg")[1]
    open_incident(srv, "facebook")
    svg, after = badge(srv, "services/facebook.svg")
    assert texts(svg) == ["Facebook", "outage"]
    assert f'fill="{COLOURS["outage"]}"' in after.text
    assert after.headers["etag"] != before.headers["etag"]


def test_a_group_badge_shows_its_worst_service(srv: Server, clock: ManualClock) -> None:
    svg, _ = badge(srv, "groups/meta.svg")
    assert texts(svg) == ["Meta", "operational"]
    whatsapp = srv.node.catalog.services["whatsapp"].id
    minute = int(clock.now() // 60) * 60 - 60
    with srv.node.engine.begin() as conn:
        expectation_store.record(
            conn, [expectation_store.Expectation(whatsapp, minute, 90, 10.0, 0.9, True)]
        )
    assert texts(badge(srv, "groups/meta.svg")[0])[1] == "elevated"
    open_incident(srv, "instagram")
    assert texts(badge(srv, "groups/meta.svg")[0])[1] == "outage"
    assert texts(badge(srv, "services/whatsapp.svg")[0])[1] == "elevated"


def test_a_matching_if_none_match_gets_304_without_a_body(srv: Server) -> None:
    etag = badge(srv, "services/facebook.svg")[1].headers["etag"]
    url = f"{srv.url}/badges/services/facebook.svg"
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = httpx.get(url, headers={"if-none-match": header})
        assert r.status_code == 304 and r.content == b"", header
        assert r.headers["etag"] == etag and r.headers["cache-control"] == "public, max-age=60"
    assert httpx.get(url, headers={"if-none-match": '"other"'}).status_code == 200


@pytest.mark.parametrize("path", ["services/nope.svg", "groups/nope.svg"])
def test_an_unknown_slug_is_a_404_problem(srv: Server, path: str) -> None:
    r = httpx.get(f"{srv.url}/badges/{path}")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert "nope" in r.json()["detail"]


def test_a_label_is_escaped_and_the_badge_grows_to_fit_it(srv: Server) -> None:
    label = 'a<b>&"c\x07'
    svg, r = badge(srv, "services/facebook.svg", label=label)
    assert texts(svg) == ['a<b>&"c', "operational"]  # the control character is dropped
    assert "<b>" not in r.text and "&lt;b&gt;&amp;" in r.text
    assert 'aria-label="a&lt;b&gt;&amp;&quot;c: operational"' in r.text
    wide = badge(srv, "services/facebook.svg", label="W" * 40)[0]
    assert float(wide.get("width", 0)) >= text_width("W" * 40) + text_width("operational")
    too_long = httpx.get(f"{srv.url}/badges/services/facebook.svg", params={"label": "x" * 41})
    assert too_long.status_code == 422


def _luminance(colour: str) -> float:
    hexes = colour.lstrip("#")
    if len(hexes) == 3:
        hexes = "".join(c * 2 for c in hexes)
    channels = [int(hexes[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("colour", [LABEL_COLOUR, *COLOURS.values()])
def test_white_text_is_readable_on_every_colour(colour: str) -> None:
    assert (1.05) / (_luminance(colour) + 0.05) >= 4.5  # WCAG AA for small text
