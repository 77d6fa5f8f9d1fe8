"""The stylesheet's colours against what they sit on: WCAG's 3:1 for the parts of a graphic
that carry meaning (the edge of the usual band, a shaded country against unshaded land), 4.5:1
for the text of the state badges, measured on the colours app.css declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from panne.status import STATES

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


def _badge(state: str) -> dict[str, str]:
    """The declarations of ``.badge.state-<state>``, colours resolved to #rrggbb."""
    rule = re.search(rf"\.badge\.state-{state}\s*\{{([^}}]*)\}}", CSS.read_text("utf-8"))
    assert rule is not None, f"no style for .badge.state-{state}"
    colours = _colours()
    out = {}
    for prop, value in re.findall(r"([a-z-]+):\s*([^;]+)", rule.group(1)):
        var = re.fullmatch(r"var\(--([a-z0-9-]+)\)", value.strip())
        hexed = re.fullmatch(r"#([0-9a-f]{6}|[0-9a-f]{3})", value.strip())
        if var:
            out[prop] = colours[var.group(1)]
        elif hexed:
            v = hexed.group(1)
            out[prop] = "#" + (v if len(v) == 6 else "".join(c * 2 for c in v))
    return out


# Every state a badge can show: the services' own, and the status page's "Under maintenance".
@pytest.mark.parametrize("state", [*STATES, "maintenance"])
def test_every_state_badge_has_a_style_whose_text_reaches_four_and_a_half_to_one(
    state: str,
) -> None:
    badge, colours = _badge(state), _colours()
    assert "color" in badge
    # On its own background, or else on the page's white and the headline's grey.
    backs = [badge["background"]] if "background" in badge else [colours["bg"], colours["soft"]]
    for back in backs:
        assert contrast(badge["color"], back) >= 4.5
