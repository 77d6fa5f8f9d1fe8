"""Languages of the pages: which one a request gets, its message catalog, and locale formatting.

The message catalogs are Babel ``.po`` files compiled in memory when the process starts, so the
repository holds no binary ``.mo`` and installing panne has no build step. A language is chosen
by the ``lang`` cookie (set by the visible switch), else by ``Accept-Language``, else English.
Times are formatted in UTC on the server and rewritten to the viewer's time zone by the page's
script (``<time datetime>`` elements), which knows that zone; the server does not.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from babel import Locale, dates, numbers
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français"}
DEFAULT = "en"
COOKIE = "lang"


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalog of ``lang`` (English is the source language: no catalog)."""
    if lang == DEFAULT:
        return NullTranslations()
    po = resources.files("panne.web").joinpath(f"locale/{lang}/LC_MESSAGES/messages.po")
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language of a request: the switch's cookie, else the browser's preference."""
    if cookie in LANGUAGES:
        return cookie
    wanted = []
    for part in (accept_language or "").split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        if tag and weight > 0:
            # Tags are case-insensitive ("FR-ca" is fr-CA), and Babel answers in the spelling
            # it was given: lowercase them, so the answer is always one of LANGUAGES' keys.
            wanted.append((weight, tag.replace("-", "_").lower()))
    preferred = [tag for _, tag in sorted(wanted, key=lambda w: -w[0])]
    found = negotiate_locale(preferred, list(LANGUAGES))
    return found if found in LANGUAGES else DEFAULT


@dataclass(frozen=True)
class Formatter:
    """Locale-aware formatting for one language, as the templates call it."""

    lang: str

    def number(self, value: float, digits: int = 0) -> str:
        if not digits and float(value).is_integer():
            # A chart's thousand bars each carry a count: the common case without Babel's
            # pattern machinery, with the locale's own grouping symbol.
            return f"{int(value):,}".replace(",", _group_symbol(self.lang))
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return numbers.format_decimal(value, format=fmt, locale=self.lang)

    def axis(self, value: float) -> str:
        """A chart's axis label: thousands compact ("15K", "15 k"), so the longest label fits
        the chart's margin even at its phone size."""
        if abs(value) < 1000:
            return self.number(value)
        return numbers.format_compact_decimal(value, locale=self.lang, fraction_digits=1)

    def clock(self, ts: float) -> str:
        """24-hour "15:10" in UTC: a chart bar's tooltip, cheap enough for a thousand bars."""
        return _dt(ts).strftime("%H:%M")

    def percent(self, share: float, digits: int = 0) -> str:
        """``share`` in [0, 1]; uptimes want two digits (99.97 % is not 100 %)."""
        return _percent(self.lang, share, digits)

    def share(self, share: float) -> str:
        """A whole percentage, but "<1 %" for a share that rounds to 0 without being 0: a
        country with a few reports has some, and "0 %" beside it would say it has none."""
        if share > 0 and round(share * 100) == 0:  # half to even, as Babel: 0.5 % is "0 %"
            return "<" + self.percent(0.01)
        return self.percent(share)

    def time(self, ts: float) -> str:
        return dates.format_time(_dt(ts), "short", tzinfo=UTC, locale=self.lang)

    def datetime(self, ts: float) -> str:
        return dates.format_datetime(_dt(ts), "medium", tzinfo=UTC, locale=self.lang)

    def date(self, ts: float) -> str:
        return _date(self.lang, _dt(ts).date())

    def long_date(self, ts: float) -> str:
        """ "March 5, 2024", "5 mars 2024": a date in words, for a shared link's title."""
        return dates.format_date(_dt(ts), "long", locale=self.lang)

    def duration(self, seconds: float) -> str:
        """ "1 hour 5 minutes" style, to the minute, in the language."""
        minutes = max(int(seconds // 60), 0)
        hours, mins = divmod(minutes, 60)
        parts = []
        if hours:
            parts.append(dates.format_timedelta(timedelta(hours=hours), locale=self.lang))
        if mins or not hours:
            parts.append(dates.format_timedelta(timedelta(minutes=mins), locale=self.lang))
        return " ".join(parts)


# A status page of 50 services draws 4,500 days, each with its date and uptime in a tooltip:
# through Babel every time, that was 0.4 s a page. Days and uptimes repeat (the same 90 dates,
# mostly 100 %), so the answers are kept.
@lru_cache(maxsize=4096)
def _percent(lang: str, share: float, digits: int) -> str:
    pattern = Locale.parse(lang).percent_formats[None].pattern  # "#,##0 %" in French
    if digits:
        pattern = pattern.replace("0", "0." + "0" * digits, 1)
    return numbers.format_percent(share, format=pattern, locale=lang)


@lru_cache(maxsize=4096)
def _date(lang: str, day: date) -> str:
    return dates.format_date(day, "medium", locale=lang)


@cache
def _group_symbol(lang: str) -> str:
    return numbers.get_group_symbol(lang)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def template_globals(lang: str) -> dict[str, Any]:
    """What a template rendered in ``lang`` calls: gettext in Jinja's new style, the formatter."""
    trans = translations(lang)

    @pass_context
    def gettext(context: Context, message: str, /, **variables: Any) -> str:
        text = trans.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables if variables else text

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, n: int, /, **variables: Any) -> str:
        variables.setdefault("num", n)
        text = trans.ngettext(singular, plural, n)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return {
        "gettext": gettext,
        "ngettext": ngettext,
        "_": gettext,
        "lang": lang,
        "fmt": Formatter(lang),
        "languages": LANGUAGES,
    }
