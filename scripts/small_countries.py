"""Write the map's points for the countries too small for its 1:110m shapes.

Run: .venv/bin/python scripts/small_countries.py PATH/TO/countries-10m.json
(the file of the world-atlas npm package, see src/panne/web/static/vendor/world-atlas/README.md).

Each point is the centroid of the country's largest polygon at 1:10m, so an archipelago's dot
sits on its main island. Eleven ISO codes have no feature of their own even at 1:10m (Natural
Earth draws them as part of France, the Netherlands, Norway, Australia or New Zealand): their
points are the main town's coordinates, below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from panne.signals.countries import COUNTRY_CODES, NUMERIC_TO_ALPHA2
from panne.web.worldmap import OFF_MAP, decode_arcs, drawn, polygons, ring_points

OUT = (
    Path(__file__).resolve().parents[1]
    / "src/panne/web/static/vendor/world-atlas/small-countries.json"
)
# (longitude, latitude) of the main town, for the codes 1:10m has no feature for.
TOWNS: dict[str, tuple[float, float]] = {
    "BQ": (-68.27, 12.15),  # Kralendijk, Bonaire
    "BV": (3.36, -54.42),  # Bouvet Island (uninhabited: its centre)
    "CC": (96.83, -12.19),  # West Island, Cocos (Keeling) Islands
    "CX": (105.68, -10.42),  # Flying Fish Cove, Christmas Island
    "GF": (-52.33, 4.94),  # Cayenne, French Guiana
    "GP": (-61.53, 16.24),  # Pointe-à-Pitre, Guadeloupe
    "MQ": (-61.07, 14.61),  # Fort-de-France, Martinique
    "RE": (55.45, -20.88),  # Saint-Denis, Réunion
    "SJ": (15.65, 78.22),  # Longyearbyen, Svalbard
    "TK": (-171.85, -9.2),  # Fakaofo, Tokelau
    "YT": (45.23, -12.78),  # Mamoudzou, Mayotte
}


def _area_and_centroid(ring: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Shoelace, in degrees: fine at the size of the islands this is for."""
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if a == 0:
        x, y = ring[0]
        return 0.0, x, y
    return abs(a) / 2, cx / (3 * a), cy / (3 * a)


def points(topo: dict[str, Any], wanted: set[str]) -> dict[str, tuple[float, float]]:
    arcs = decode_arcs(topo)
    best: dict[str, tuple[float, float, float]] = {}
    for g in topo["objects"]["countries"]["geometries"]:
        code = NUMERIC_TO_ALPHA2.get(g.get("id", ""))
        if code not in wanted:
            continue
        for polygon in polygons(g):
            area, x, y = _area_and_centroid(ring_points(arcs, polygon[0]))
            if code not in best or area > best[code][0]:
                best[code] = (area, x, y)
    found = {code: (round(x, 2), round(y, 2)) for code, (_, x, y) in best.items()}
    return dict(sorted({**TOWNS, **found}.items()))


def main() -> None:
    topo = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    wanted = set(COUNTRY_CODES - drawn() - {OFF_MAP})
    out = points(topo, wanted)
    missing = wanted - out.keys()
    if missing:
        sys.exit(f"no point for {', '.join(sorted(missing))}: add them to TOWNS")
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{len(out)} points written to {OUT}")


if __name__ == "__main__":
    main()
