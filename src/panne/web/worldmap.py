"""A world map drawn on the server as inline SVG, shaded by reports per country.

Pages must work without JavaScript and under a Content-Security-Policy that forbids inline styles,
so the map is SVG path data computed here and coloured by templates with CSS classes. Geometry:
Natural Earth 1:110m from the vendored world-atlas TopoJSON (static/vendor/world-atlas/), decoded
here rather than with a new dependency, in the Equal Earth projection, which is equal-area: a
shaded country does not look bigger for being far from the equator.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any, TypeAlias

from panne.signals.countries import NUMERIC_TO_ALPHA2

_TOPOJSON = "static/vendor/world-atlas/countries-110m.json"
_POINTS = "static/vendor/world-atlas/small-countries.json"  # scripts/small_countries.py
# Shapes world-atlas gives no ISO numeric code, with the alpha-2 code reports use for them.
_BY_NAME = {"Kosovo": "XK"}
ANTARCTICA = "010"  # dropped: no users, and it would take a fifth of the height
OFF_MAP = "AQ"  # so its few reports are in the tables only
_LonLat: TypeAlias = tuple[float, float]  # degrees
_Point: TypeAlias = tuple[int, int]  # map units, in tenths: integer deltas add up exactly

# Equal Earth (Šavrič, Patterson & Jenny 2018, doi:10.1080/13658816.2018.1504949).
_A1, _A2, _A3, _A4 = 1.340264, -0.081106, 0.000893, 0.003796
_M = math.sqrt(3) / 2


def _equal_earth(lon: float, lat: float) -> tuple[float, float]:
    """Degrees to the unit-sphere Equal Earth plane (y grows northwards)."""
    lam, t = math.radians(lon), math.asin(_M * math.sin(math.radians(lat)))
    t2 = t * t
    t6 = t2 * t2 * t2
    x = lam * math.cos(t) / (_M * (_A1 + 3 * _A2 * t2 + t6 * (7 * _A3 + 9 * _A4 * t2)))
    return x, t * (_A1 + _A2 * t2 + t6 * (_A3 + _A4 * t2))


# All longitudes, but only the latitudes of the countries kept (Greenland reaches 83.6°N, Tierra
# del Fuego 55.6°S): without Antarctica the rest is empty sea. Equal Earth's y depends on latitude
# alone, so this crop is exact.
WIDTH = 960
_X0 = _equal_earth(180, 0)[0]
_SCALE = WIDTH / (2 * _X0)
_Y0 = _equal_earth(0, 84.0)[1]
HEIGHT = math.ceil((_Y0 - _equal_earth(0, -56.0)[1]) * _SCALE)
VIEWBOX = f"0 0 {WIDTH} {HEIGHT}"


@dataclass(frozen=True)
class CountryShape:
    """One country's outline. ``code`` (ISO alpha-2, what reports carry and shading keys on) is
    None where the country has no ISO code (N. Cyprus, Somaliland): still drawn, so the map has
    no holes, but never shaded. ``name`` is world-atlas's English name; pages should
    prefer ``panne.signals.countries.country_name(code, lang)`` when there is a code."""

    code: str | None
    numeric: str | None
    name: str
    d: str


def decode_arcs(topo: dict[str, Any]) -> list[list[_LonLat]]:
    """Undo the quantization and delta encoding of every arc (TopoJSON "transform")."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        qx = qy = 0
        points = []
        for dx, dy in arc:
            qx, qy = qx + dx, qy + dy
            points.append((qx * sx + tx, qy * sy + ty))
        arcs.append(points)
    return arcs


def _clip(ring: list[_LonLat], lon: float, side: int) -> list[_LonLat]:
    """Sutherland-Hodgman: the part of ``ring`` where ``side * (x - lon) >= 0``."""
    out: list[_LonLat] = []
    for i, (bx, by) in enumerate(ring):
        ax, ay = ring[i - 1]
        if (side * (ax - lon) >= 0) != (side * (bx - lon) >= 0):
            out.append((lon, ay + (by - ay) * (lon - ax) / (bx - ax)))
        if side * (bx - lon) >= 0:
            out.append((bx, by))
    return out


def _split_antimeridian(ring: list[_LonLat]) -> list[list[_LonLat]]:
    """world-atlas 2 is stitched across ±180° (Russia, Fiji) and leaves the cut to the renderer:
    unwrap the longitudes, then cut the ring into one piece per 360° window it touches."""
    offset, unwrapped = 0.0, ring[:1]
    for lon, lat in ring[1:]:
        step = lon + offset - unwrapped[-1][0]
        offset += 360.0 if step < -180 else -360.0 if step > 180 else 0.0
        unwrapped.append((lon + offset, lat))
    if all(-180 <= lon <= 180 for lon, _ in unwrapped):
        return [ring]
    pieces = []
    for west in (-540, -180, 180):
        piece = _clip(_clip(unwrapped, west, 1), west + 360, -1)
        pieces.append([(lon - west - 180, lat) for lon, lat in piece])
    return pieces


def _num(tenths: int) -> str:
    s = f"{tenths / 10:g}"
    return s.replace("0.", ".", 1) if s.startswith(("0.", "-0.")) else s


def _join(nums: list[int]) -> str:
    return " ".join(map(_num, nums)).replace(" -", "-")  # a minus sign is separator enough


def ring_points(arcs: list[list[_LonLat]], indices: Sequence[int]) -> list[_LonLat]:
    """A TopoJSON ring's points from its arcs; arc ``~i`` is ``i`` reversed."""
    return [p for i in indices for p in (arcs[i] if i >= 0 else reversed(arcs[~i]))]


def polygons(geometry: dict[str, Any]) -> list[list[list[int]]]:
    """A TopoJSON geometry's polygons, each a list of rings of arc indices (outer ring first)."""
    rings = geometry.get("arcs", [])
    found: list[list[list[int]]] = {"Polygon": [rings], "MultiPolygon": rings}.get(
        str(geometry.get("type")), []
    )
    return found


def _map_xy(lon: float, lat: float) -> tuple[float, float]:
    """Degrees to map units: projected, scaled to WIDTH, y down from the crop's top."""
    x, y = _equal_earth(lon, lat)
    return (x + _X0) * _SCALE, (_Y0 - y) * _SCALE


def _ring_paths(arcs: list[list[_LonLat]], indices: Sequence[int]) -> str:
    """A ring as ``M x y l dx dy … z``, per antimeridian piece."""
    paths = []
    for piece in _split_antimeridian(ring_points(arcs, indices)):
        ring: list[_Point] = []
        for lon, lat in piece:
            x, y = _map_xy(lon, lat)
            p = round(x * 10), round(y * 10)
            if not ring or p != ring[-1]:  # arcs share end points; rounding merges neighbours
                ring.append(p)
        if len(ring) > 1 and ring[-1] == ring[0]:
            ring.pop()  # "z" closes it
        if len(ring) >= 3:  # smaller: an islet under a tenth of a unit, or an empty piece
            deltas = [v for (ax, ay), (bx, by) in pairwise(ring) for v in (bx - ax, by - ay)]
            paths.append(f"M{_join(list(ring[0]))}l{_join(deltas)}z")
    return "".join(paths)


@cache
def shapes() -> tuple[CountryShape, ...]:
    """Every country but Antarctica, in world-atlas's order. Decoded and projected once per
    process (a few tens of milliseconds), since the data cannot change while running."""
    source = resources.files("panne.web").joinpath(_TOPOJSON)
    topo = json.loads(source.read_text(encoding="utf-8"))
    arcs = decode_arcs(topo)
    out = []
    for geometry in topo["objects"]["countries"]["geometries"]:
        numeric: str | None = geometry.get("id")
        if numeric == ANTARCTICA:
            continue
        d = "".join(_ring_paths(arcs, ring) for polygon in polygons(geometry) for ring in polygon)
        if d:
            name = str(geometry.get("properties", {}).get("name") or "")
            code = NUMERIC_TO_ALPHA2.get(numeric) if numeric else _BY_NAME.get(name)
            name = name or code or ""
            out.append(CountryShape(code=code, numeric=numeric, name=name, d=d))
    return tuple(out)


@cache
def drawn() -> frozenset[str]:
    """The country codes the map has a shape for."""
    return frozenset(c.code for c in shapes() if c.code)


@dataclass(frozen=True)
class CountryDot:
    """Where a country too small for the 1:110m shapes (75 of them: Singapore, Hong Kong,
    Bahrain, Malta, Réunion…) is drawn as a dot, in map units, so that its reports show on the
    map like any other country's."""

    code: str
    x: float
    y: float


@cache
def dots() -> tuple[CountryDot, ...]:
    source = resources.files("panne.web").joinpath(_POINTS)
    points: dict[str, list[float]] = json.loads(source.read_text(encoding="utf-8"))
    out = []
    for code, (lon, lat) in points.items():
        if code not in drawn():
            x, y = _map_xy(lon, lat)
            out.append(CountryDot(code, round(x, 1), round(y, 1)))
    return tuple(out)


def shade_levels(values: Mapping[str, int], levels: int = 5) -> dict[str, int]:
    """Shade level 1..``levels`` per country with a positive count, on a log scale relative to
    the largest: counts span orders of magnitude, and a linear scale would put every country but
    the biggest at level 1. Zero (or less) is left out, so it stays unshaded rather than looking
    like "a few reports"."""
    if levels < 1:
        raise ValueError("levels must be at least 1")
    positive = {code: value for code, value in values.items() if value > 0}
    if not positive:
        return {}
    top = math.log1p(max(positive.values()))
    return {c: max(1, math.ceil(levels * math.log1p(v) / top)) for c, v in positive.items()}
