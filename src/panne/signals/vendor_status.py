"""Vendors' official status: what a source is, what it says, normalised to four words.

Crowd reports say people suffer; the vendor's own status page says whether the vendor agrees.
A :class:`VendorSource` names one page for one service: an Atlassian Statuspage (its
``/api/v2/summary.json``) or an RSS 2.0 / Atom incident feed (``vendor_feeds.py``). What a
fetch found is a :class:`VendorState` in the vocabulary aggregators use, ``up``, ``warn``,
``down``, ``maintenance``, plus ``unknown`` for a source never read successfully. A page that
cannot be read keeps its last known state, flagged ``stale`` with the error, because "the
vendor's page is unreachable" is news in itself and must not read as "the vendor says up".

Statuspage words map as status aggregators map them (the indicator is derived by Statuspage
from the same ladder: degraded → minor, partial outage → major, major outage → critical)::

    component            indicator     state
    operational          none          up
    under_maintenance    maintenance   maintenance
    degraded_performance minor         warn
    partial_outage       major         warn
    major_outage         critical      down

The worst state wins, in the order down > warn > maintenance > up. Parsing never raises: a
malformed document gives :class:`VendorParseError`, which the poller keeps as the state's error.
The poller itself is ``vendor_poll.py``; storage is ``store/vendor_status.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

import orjson

from panne.signals.typed_text import address_text_problem

SourceKind = Literal["statuspage", "feed"]
StateName = Literal["up", "warn", "down", "maintenance", "unknown"]
SOURCE_KINDS: tuple[SourceKind, ...] = get_args(SourceKind)
STATES: tuple[StateName, ...] = get_args(StateName)
# How bad each state is: the worst of several components wins.
SEVERITY: dict[StateName, int] = {"unknown": -1, "up": 0, "maintenance": 1, "warn": 2, "down": 3}

COMPONENT_STATES: dict[str, StateName] = {
    "operational": "up",
    "under_maintenance": "maintenance",
    "degraded_performance": "warn",
    "partial_outage": "warn",
    "major_outage": "down",
}
INDICATOR_STATES: dict[str, StateName] = {
    "none": "up",
    "maintenance": "maintenance",
    "minor": "warn",
    "major": "warn",
    "critical": "down",
}
_ACTIVE_MAINTENANCE = {"in_progress", "verifying"}
SOURCE_FIELDS = ("service", "kind", "url", "components", "interval_seconds")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_INTERVAL_SECONDS = 30
MAX_INTERVAL_SECONDS = 86_400
MAX_INCIDENTS = 20  # kept per state: a page listing hundreds is summarised, not copied
MAX_BODY_CHARS = 2000


class VendorSourceError(ValueError):
    """A source definition is invalid; the message names the service and the field, and
    ``field`` names the field alone."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class VendorParseError(ValueError):
    """A page or feed could not be understood; the message says what was wrong."""


@dataclass(frozen=True, slots=True)
class VendorSource:
    """One vendor page for one service.

    ``components``: the vendor's component names that matter for this service, matched
    without regard to case against a component's name or ``"Group - Name"``; empty means the
    page's overall indicator. A Statuspage ``url`` may be the page itself
    (``https://www.githubstatus.com``): ``/api/v2/summary.json`` is then added.
    """

    service: str
    kind: SourceKind
    url: str
    components: tuple[str, ...] = ()
    interval_seconds: int = 120

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> VendorSourceError:
            return VendorSourceError(f"vendor source {self.service!r}: {name}: {why}", name)

        if not isinstance(self.service, str) or not _SERVICE.match(self.service):
            raise bad("service", "must be a slug (a-z, 0-9, '.', '_', '-'; at most 64)")
        if not isinstance(self.kind, str) or self.kind not in SOURCE_KINDS:
            raise bad("kind", f"must be one of {', '.join(SOURCE_KINDS)}")
        if not isinstance(self.url, str):
            raise bad("url", "must be an http or https URL with a host")
        if len(self.url) > 2000:
            raise bad("url", "must be at most 2000 characters")
        try:  # what the poller and the guard will read of it; urlsplit and .port both raise
            parts = urlsplit(self.url)
            port = parts.port
        except ValueError as exc:  # "http://[::1/", a port out of range or not a number
            raise bad("url", f"is not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad("url", "must be an http or https URL with a host")
        if port == 0:
            raise bad("url", "must have a port from 1 to 65535")
        try:  # resolution encodes the name so: a label over 63 characters cannot be resolved
            parts.hostname.encode("idna")
        except UnicodeError:
            raise bad("url", f"{parts.hostname!r} is not a valid host name") from None
        comps = self.components
        if isinstance(comps, str) or not all(isinstance(c, str) and c.strip() for c in comps):
            raise bad("components", "must be a list of non-empty names")
        object.__setattr__(self, "components", tuple(c.strip() for c in comps))
        interval = self.interval_seconds
        if isinstance(interval, bool) or not isinstance(interval, int):
            raise bad("interval_seconds", "must be an integer")
        if not MIN_INTERVAL_SECONDS <= interval <= MAX_INTERVAL_SECONDS:
            raise bad(
                "interval_seconds",
                f"must be between {MIN_INTERVAL_SECONDS} and {MAX_INTERVAL_SECONDS}",
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VendorSource:
        """A source from JSON data (the admin API's body, a catalog's ``status_page``):
        ``service``, ``kind``, ``url``, optionally ``components`` and ``interval_seconds``.
        Unknown keys are errors, as misspelt options silently ignored are worse than none."""
        unknown = sorted(str(k) for k in set(data) - set(SOURCE_FIELDS))
        if unknown:
            raise VendorSourceError(f"unknown field {unknown[0]!r}", unknown[0])
        for name in ("service", "kind", "url"):
            if name not in data:
                raise VendorSourceError(f"{name}: required", name)
        # Checked here, where a source is defined, not in the constructor: a source stored by
        # an earlier version still loads.
        url = data["url"]
        if isinstance(url, str) and (why := address_text_problem(url)) is not None:
            raise VendorSourceError(f"vendor source {data['service']!r}: url: {why}", "url")
        components = data.get("components", [])
        if not isinstance(components, list):
            raise VendorSourceError("components: must be a list of non-empty names", "components")
        return cls(
            data["service"],
            data["kind"],
            data["url"],
            tuple(components),
            data.get("interval_seconds", 120),
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields as :meth:`from_dict` reads them."""
        return {
            "service": self.service,
            "kind": self.kind,
            "url": self.url,
            "components": list(self.components),
            "interval_seconds": self.interval_seconds,
        }

    @property
    def fetch_url(self) -> str:
        """The URL actually requested."""
        if self.kind == "statuspage" and not urlsplit(self.url).path.endswith(".json"):
            return self.url.rstrip("/") + "/api/v2/summary.json"
        return self.url


@dataclass(frozen=True, slots=True)
class VendorIncident:
    """An unresolved incident or an ongoing maintenance, as the vendor words it."""

    name: str
    status: str  # the vendor's word: investigating, identified, in_progress …
    impact: str  # none, minor, major, critical, maintenance ("unknown" from feeds)
    url: str
    updated_at: float | None  # epoch seconds
    body: str  # the latest update's text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VendorIncident:
        values: dict[str, Any] = {f.name: data.get(f.name) for f in fields(cls)}
        return cls(**values)


@dataclass(frozen=True, slots=True)
class VendorState:
    """What the vendor says about a service. ``fetched_at`` is the last successful read
    (None if there never was one); ``stale`` means the latest attempt failed with ``error``
    and everything else is the last known state (``unknown`` when there is none). ``error``
    without ``stale`` is a warning about a page that was read (a chosen component the page
    does not list)."""

    service: str
    state: StateName
    description: str
    incidents: tuple[VendorIncident, ...] = ()
    fetched_at: float | None = None
    stale: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """What one successful parse found, before it becomes a :class:`VendorState`."""

    state: StateName
    description: str
    incidents: tuple[VendorIncident, ...] = ()
    warning: str | None = None


def worst(states: list[StateName]) -> StateName:
    return max(states, key=SEVERITY.__getitem__, default="up")


def parse_time(text: Any) -> float | None:
    """ISO 8601 (as Statuspage and Atom write it) to epoch seconds; None when unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


def _text(value: Any, limit: int = 500) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _dicts(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise VendorParseError(f"summary.json: {key!r} is not a list of objects")
    return cast(list[dict[str, Any]], value)


def _incident(raw: dict[str, Any], page_url: str) -> VendorIncident:
    updates = [u for u in raw.get("incident_updates") or [] if isinstance(u, dict)]
    latest = max(
        updates,
        key=lambda u: parse_time(u.get("display_at") or u.get("created_at")) or 0.0,
        default={},
    )
    url = _text(raw.get("shortlink"), 2000)
    if not url and page_url and raw.get("id"):
        url = f"{page_url.rstrip('/')}/incidents/{raw['id']}"
    return VendorIncident(
        name=_text(raw.get("name")) or "(untitled)",
        status=_text(raw.get("status"), 32),
        impact=_text(raw.get("impact"), 32),
        url=url,
        updated_at=parse_time(raw.get("updated_at")),
        body=_text(latest.get("body"), MAX_BODY_CHARS),
    )


def _chosen(
    components: list[dict[str, Any]], wanted: tuple[str, ...]
) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """The components a source names, by id, as (the name it used, status); and the names
    the page does not list. A name may match several components (a group and its member)."""
    names = {c.get("id"): _text(c.get("name")) for c in components}
    chosen: dict[str, tuple[str, str]] = {}
    missing: list[str] = []
    for name in wanted:
        key = name.casefold()
        found = False
        for comp in components:
            own = _text(comp.get("name"))
            group = names.get(comp.get("group_id"), "")
            if key in (own.casefold(), f"{group} - {own}".casefold()):
                chosen[str(comp.get("id"))] = (name, _text(comp.get("status"), 32))
                found = True
        if not found:
            missing.append(name)
    return chosen, missing


def parse_summary(body: bytes, components: tuple[str, ...] = ()) -> Reading:
    """Read a Statuspage ``summary.json``; raises :class:`VendorParseError` when malformed."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise VendorParseError(f"summary.json is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("status"), dict):
        raise VendorParseError("summary.json has no 'status' object: not a Statuspage summary")
    status = data["status"]
    indicator = status.get("indicator")
    if indicator not in INDICATOR_STATES:
        raise VendorParseError(f"summary.json: unknown status indicator {indicator!r}")
    page = data.get("page")
    page_url = _text(page.get("url"), 2000) if isinstance(page, dict) else ""
    comps = _dicts(data, "components")
    raw_incidents = _dicts(data, "incidents")
    maintenances = [
        m for m in _dicts(data, "scheduled_maintenances") if m.get("status") in _ACTIVE_MAINTENANCE
    ]
    chosen, missing = _chosen(comps, components)
    warning = f"components not on the page: {', '.join(missing)}" if missing else None
    if chosen:
        named: dict[str, StateName] = {}
        for name, status_word in chosen.values():  # a status this table lacks counts as warn
            named[name] = worst([named.get(name, "up"), COMPONENT_STATES.get(status_word, "warn")])
        state = worst(list(named.values()))
        bad = sorted(n for n, s in named.items() if s == state)
        description = "Operational" if state == "up" else f"{state.capitalize()}: {', '.join(bad)}"

        def concerns(item: dict[str, Any]) -> bool:
            ids = {c.get("id") for c in item.get("components") or [] if isinstance(c, dict)}
            return not ids or bool(ids & chosen.keys())

        raw_incidents = [i for i in raw_incidents if concerns(i)]
        maintenances = [m for m in maintenances if concerns(m)]
    else:  # no components chosen, or none of them on the page: the page's own verdict
        state = INDICATOR_STATES[indicator]
        description = _text(status.get("description")) or indicator
    if state == "up" and maintenances:
        state, description = "maintenance", "Maintenance in progress"
    incidents = [_incident(i, page_url) for i in raw_incidents]
    incidents += [
        _incident({**m, "impact": m.get("impact") or "maintenance"}, page_url) for m in maintenances
    ]
    return Reading(state, description, tuple(incidents[:MAX_INCIDENTS]), warning)
