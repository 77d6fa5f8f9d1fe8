"""The stylesheet's graphic colours against what they sit on: WCAG's 3:1 for the parts of a
graphic that carry meaning (the edge of the usual band, a shaded country against unshaded
land), measured on the colours app.css declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "src" / "panne" / "web" / "static" / "app.css"


def _colours() -> dict[str, str]:
    """The custom properties that are colours, as #rrggbb ("#fff" spelt out)."""
    found = re.findall(r"--([a-z0-9-]+):\s*#([0-9a-f]{6}|[0-9a-f]{3})\b", CSS.read_text("utf-8"))
    return {name: "#" + (v if len(v) == 6 else "".join(c * 2 for c in v)) for name, v in found}


def _luminance(hex_colour: str) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(hex_colour[i : i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize(
    ("fore", "back"),
    [
        ("band-edge", "bg"),  # the usual band's outline on the chart's white
        ("bar", "band"),  # a bar inside the band
        ("l1", "land"),  # the lightest shade against a country without reports
        ("hot", "bg"),
    ],
)
def test_meaningful_graphics_reach_three_to_one(fore: str, back: str) -> None:
    colours = _colours()
    assert contrast(colours[fore], colours[back]) >= 3.0


def test_shades_darken_level_by_level() -> None:
    colours = _colours()
    shades = [_luminance(colours[f"l{k}"]) for k in range(1, 6)]
    assert shades == sorted(shades, reverse=True)
