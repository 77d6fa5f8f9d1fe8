"""The server-rendered world map: shapes decoded from the vendored TopoJSON, and shade levels."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from html import escape
from itertools import pairwise

import pytest

from panne.signals.countries import COUNTRY_CODES
from panne.web.worldmap import (
    HEIGHT,
    OFF_MAP,
    VIEWBOX,
    WIDTH,
    CountryShape,
    dots,
    drawn,
    shade_levels,
    shapes,
)

MAX_PATH_BYTES = 90_000  # measured 66,649 bytes for world-atlas 2.0.2
_TOKEN = re.compile(r"[Mlz]|-?(?:\d+(?:\.\d+)?|\.\d+)")

Ring = list[tuple[float, float]]


def rings(d: str) -> list[Ring]:
    """Absolute points of each ``M x y l dx dy … z`` ring, failing on anything else in ``d``."""
    assert _TOKEN.sub("", d).strip() == "", "unexpected characters in path data"
    out: list[Ring] = []
    command, numbers = "", []
    for token in _TOKEN.findall(d):
        if token in "Ml":
            command = token
        elif token == "z":
            assert len(out[-1]) >= 3
        else:
            numbers.append(float(token))
            if len(numbers) == 2:
                x, y = numbers
                numbers = []
                if command == "M":
                    out.append([(x, y)])
                else:
                    px, py = out[-1][-1]
                    out[-1].append((px + x, py + y))
    return out


def by_code(code: str) -> CountryShape:
    return next(s for s in shapes() if s.code == code)


def bbox(points: Ring) -> tuple[float, float, float, float]:
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return min(xs), min(ys), max(xs), max(ys)


def area(ring: Ring) -> float:
    return abs(sum(ax * by - bx * ay for (ax, ay), (bx, by) in pairwise([*ring, ring[0]])))


def test_viewbox_matches_equal_earth_aspect() -> None:
    assert VIEWBOX.split() == ["0", "0", str(WIDTH), str(HEIGHT)]
    # Equal Earth is 0.4868 as tall as wide; cropped to 84°N..56°S it is shorter.
    assert WIDTH == 960 and 380 < HEIGHT < 467


def test_each_code_once_and_main_countries_present() -> None:
    counts = Counter(s.code for s in shapes() if s.code is not None)
    assert counts and max(counts.values()) == 1
    for code in ("FR", "US", "TN", "BR", "IN"):
        shape = by_code(code)
        assert shape.d.startswith("M") and rings(shape.d)
    assert by_code("FR").numeric == "250"
    assert len(shapes()) >= 170
    assert shapes() is shapes()  # loaded once per process


def test_features_without_iso_code_are_drawn_without_code() -> None:
    unnamed = {s.name: s for s in shapes() if s.code is None}
    assert {"N. Cyprus", "Somaliland"} <= set(unnamed)
    assert all(s.numeric is None and rings(s.d) for s in unnamed.values())


def test_antarctica_is_dropped() -> None:
    assert all(s.numeric != "010" and s.code != "AQ" for s in shapes())


def test_all_points_inside_viewbox_and_size_bounded() -> None:
    total = 0
    for shape in shapes():
        total += len(shape.d)
        for ring in rings(shape.d):
            x0, y0, x1, y1 = bbox(ring)
            assert 0 <= x0 <= x1 <= WIDTH and 0 <= y0 <= y1 <= HEIGHT, shape.name
            # Rings crossing ±180° (Russia, Fiji) are cut, not smeared across the map.
            assert x1 - x0 < WIDTH / 2, shape.name
    assert total < MAX_PATH_BYTES


def test_antimeridian_pieces_land_on_both_edges() -> None:
    russia = [bbox(r) for r in rings(by_code("RU").d)]
    assert any(x0 < WIDTH * 0.2 for x0, *_ in russia)  # Chukotka, east of 180°, on the left
    assert any(x1 > WIDTH * 0.8 for *_, x1, _ in russia)


def test_relative_positions() -> None:
    # Metropolitan France is France's biggest ring (French Guiana is another one).
    france = bbox(max(rings(by_code("FR").d), key=area))
    usa = bbox([p for r in rings(by_code("US").d) for p in r])
    tunisia = bbox([p for r in rings(by_code("TN").d) for p in r])
    assert france[0] > usa[2]  # east of the USA, Alaska included
    assert france[3] < tunisia[1]  # north (SVG y grows downwards) of Tunisia
    brazil = bbox([p for r in rings(by_code("BR").d) for p in r])
    india = bbox([p for r in rings(by_code("IN").d) for p in r])
    assert brazil[2] < india[0] and india[3] < brazil[3]  # west of India, reaching further south


def test_shapes_render_as_valid_svg() -> None:
    levels = shade_levels({"FR": 10, "US": 1000})
    paths = "".join(
        f'<path d="{s.d}" class="shade-{levels.get(s.code or "", 0)}">'
        f"<title>{escape(s.name)}</title></path>"
        for s in shapes()
    )
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{VIEWBOX}">{paths}</svg>'
    root = ET.fromstring(svg)
    found = root.findall("{http://www.w3.org/2000/svg}path")
    assert len(found) == len(shapes())
    assert {p.get("class") for p in found} == {"shade-0", "shade-2", "shade-5"}


def test_shade_levels_monotone_log_scaled() -> None:
    values = {f"C{i}": v for i, v in enumerate([1, 2, 3, 5, 10, 30, 100, 300, 1000, 10_000])}
    levels = shade_levels(values)
    ordered = [levels[code] for code in sorted(values, key=values.__getitem__)]
    assert ordered == sorted(ordered)
    assert ordered[0] == 1 and ordered[-1] == 5
    assert set(ordered) == {1, 2, 3, 4, 5}  # log scale: the giant does not flatten the others
    assert shade_levels(values) == levels  # deterministic
    assert shade_levels({"US": 100_000, "FR": 1_000})["FR"] >= 3


def test_shade_levels_edges() -> None:
    assert shade_levels({}) == {}
    assert shade_levels({"FR": 0, "US": -3}) == {}
    assert shade_levels({"FR": 0, "US": 7, "TN": 1}) == {"US": 5, "TN": 2}
    assert shade_levels({"FR": 1}) == {"FR": 5}
    assert shade_levels({"FR": 1, "US": 50}, levels=3) == {"FR": 1, "US": 3}
    with pytest.raises(ValueError):
        shade_levels({"FR": 1}, levels=0)


def every_point(code: str) -> Ring:
    return [p for r in rings(by_code(code).d) for p in r]


def test_every_country_reports_can_carry_is_on_the_map() -> None:
    """A shape at 1:110m, else a dot (75: Singapore, Malta, Réunion…); Antarctica neither."""
    shown, dotted = drawn(), {d.code for d in dots()}
    assert {"FR", "US", "JP", "TN", "XK"} <= shown
    assert {"SG", "HK", "BH", "MT", "MU", "MO", "AD", "LI", "MC", "RE", "GP", "VA"} <= dotted
    assert not shown & dotted
    assert shown | dotted == COUNTRY_CODES - {OFF_MAP}
    assert len(dotted) == 75 and dots() is dots()


def test_dots_sit_where_their_countries_are() -> None:
    for d in dots():
        assert 0 <= d.x <= WIDTH and 0 <= d.y <= HEIGHT, d.code
    at = {d.code: (d.x, d.y) for d in dots()}

    def near(code: str, shape: str, margin: float = 6) -> bool:
        x0, y0, x1, y1 = bbox(every_point(shape))
        x, y = at[code]
        return x0 - margin <= x <= x1 + margin and y0 - margin <= y <= y1 + margin

    assert near("SG", "MY") and near("MC", "FR") and near("VA", "IT") and near("LI", "CH")
    assert near("HK", "CN") and near("BH", "SA") and near("AD", "ES")
    assert near("MT", "IT") and near("MT", "TN", 10) and near("GF", "SR") and near("GF", "BR")
    assert abs(at["RE"][0] - at["MU"][0]) < 8 and abs(at["RE"][1] - at["MU"][1]) < 8


def test_kosovo_is_shaded_by_its_code() -> None:
    kosovo = next(s for s in shapes() if s.name == "Kosovo")
    assert kosovo.code == "XK" and kosovo.numeric is None
