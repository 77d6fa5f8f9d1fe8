"""What the stages wrote in English, read back as phrases a page can say in its own language.

Probe results and vendor states carry English text made by panne itself ("status 503, expected
200-399", "Warn: API", "Maintenance in progress") or by Statuspage ("Partial System Outage").
Those stages must not depend on the web's languages, so the text stays as it is in the store;
here each known shape becomes a :class:`Phrase`, a key of a fixed vocabulary with its values,
which ``templates/_phrases.html`` translates. Text of no known shape (a library's error
message, a feed's own words) comes back as ``text``, shown as it is and marked English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The overall descriptions Statuspage itself writes for a page's indicator.
STATUSPAGE_WORDS = frozenset(
    {
        "All Systems Operational",
        "Partially Degraded Service",
        "Minor Service Outage",
        "Partial System Outage",
        "Major Service Outage",
        "Major System Outage",
        "Service Under Maintenance",
    }
)
# Sentences panne writes of a vendor's page, and their keys.
_VENDOR_SENTENCES = {
    "Operational": "operational",
    "No open incident in the feed": "no_incident",
    "Maintenance in progress": "maintenance",
}
# What vendor_status writes when a page's indicator has no description of its own.
INDICATORS = frozenset({"none", "minor", "major", "critical", "maintenance"})

_PROBE_DETAILS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("status", re.compile(r"status (?P<status>\d{3}), expected (?P<lo>\d{3})-(?P<hi>\d{3})")),
    ("no_answer", re.compile(r"no answer within (?P<ms>\d+) ms")),
    ("keyword_missing", re.compile(r"'(?P<keyword>.*)' not in the body")),
    ("cert_expires", re.compile(r"certificate expires in (?P<days>-?[\d.]+) days")),
    ("nxdomain", re.compile(r"NXDOMAIN: the name does not exist")),
    ("refused", re.compile(r"connection refused")),
    ("not_json", re.compile(r"the body is not JSON")),
)
_COMPONENTS = re.compile(r"(?:Warn|Down|Maintenance): (?P<names>.+)", re.DOTALL)
_FEED_OPEN = re.compile(r"(?P<num>\d+) open incidents?: (?P<title>.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Phrase:
    """``key`` names the sentence (the template's vocabulary); ``values`` fill it in."""

    key: str
    values: dict[str, str] = field(default_factory=dict)


def probe_detail(detail: str) -> Phrase:
    """A failed probe run's detail (``panne.signals.probe_kinds``) as a phrase."""
    for key, pattern in _PROBE_DETAILS:
        match = pattern.fullmatch(detail.strip())
        if match:
            return Phrase(key, match.groupdict())
    return Phrase("text", {"text": detail})


def vendor_line(state: str, description: str) -> Phrase:
    """What a vendor's page says (``panne.signals.vendor_status``, ``vendor_feeds``,
    ``vendor_poll``), as a phrase. ``never_read``: no read ever succeeded, so there is no
    state to report at all, only that the page could not be read."""
    text = description.strip()
    if state == "unknown":
        return Phrase("never_read")
    if text in _VENDOR_SENTENCES:
        return Phrase(_VENDOR_SENTENCES[text])
    if text in STATUSPAGE_WORDS:
        return Phrase("statuspage", {"text": text})
    if text in INDICATORS or not text:
        return Phrase("state_only")  # the state's own label says it all
    if match := _COMPONENTS.fullmatch(text):
        return Phrase("components", match.groupdict())
    if match := _FEED_OPEN.fullmatch(text):
        return Phrase("feed_open", match.groupdict())
    return Phrase("text", {"text": text})
