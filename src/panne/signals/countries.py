"""Countries: the ISO 3166-1 codes panne accepts, their names in each language, and the numeric
codes that world maps use (world-atlas keys countries by ISO numeric code: "250" is France)."""

from __future__ import annotations

from functools import cache

import pycountry
from babel import Locale, UnknownLocaleError

from panne.signals.reports import UNKNOWN_COUNTRY

COUNTRY_CODES: frozenset[str] = frozenset(c.alpha_2 for c in pycountry.countries) | {"XK"}
NUMERIC_TO_ALPHA2: dict[str, str] = {c.numeric: c.alpha_2 for c in pycountry.countries}


@cache
def _territories(lang: str) -> dict[str, str]:
    try:
        return dict(Locale.parse(lang).territories)
    except (UnknownLocaleError, ValueError):
        return {}


def country_name(code: str, lang: str = "en") -> str:
    """The country's name in ``lang`` (Babel's CLDR data), else English, else the code."""
    if code == UNKNOWN_COUNTRY:
        return {"fr": "Inconnu"}.get(lang, "Unknown")
    name = _territories(lang).get(code) or _territories("en").get(code)
    return name or code
