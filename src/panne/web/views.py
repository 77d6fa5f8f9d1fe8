"""What each page shows, read from what the stages stored: plain values for the templates.

Pages read only: counts, the detector's expectations, service status and incidents. Nothing here
judges anything; a web process needs no detector to answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from panne import counts
from panne.catalog import Group, Service
from panne.clock import minute_of
from panne.fusion import Fusion
from panne.fusion_store import Evidence, evidence_for
from panne.signals.countries import country_name
from panne.signals.probes import ProbeResult
from panne.signals.vendor_status import VendorState
from panne.status import ServiceStatus, all_statuses
from panne.store import counts as count_store
from panne.store import expectations as expectation_store
from panne.store import incidents as incident_store
from panne.store import probe_defs
from panne.store import probes as probe_store
from panne.store import status_updates as update_store
from panne.store import vendor_status as vendor_store
from panne.store.incidents import IncidentEvent, IncidentRecord
from panne.store.probe_defs import StoredProbe
from panne.store.status_updates import StatusUpdate
from panne.web.api_probes import shown_target
from panne.web.charts import ReportChart, report_chart, sparkline, usual_band
from panne.web.incident_text import by_probes, inline, probe_failure
from panne.web.phrases import Phrase, probe_detail, vendor_line
from panne.web.search import matches
from panne.web.worldmap import shade_levels

if TYPE_CHECKING:
    from panne.node import Node

DAY = 86_400
HOUR = 3600
CHART_STEPS = {"1m": 60, "15m": 900}
SPARK_STEP = 900
STATE_ORDER = {"outage": 0, "elevated": 1, "normal": 2}


@dataclass(frozen=True, slots=True)
class Share:
    key: str  # country code or problem slug
    name: str
    count: int | None  # None where only the share is known (an incident's problems)
    share: float  # of the total, in [0, 1]


@dataclass(frozen=True, slots=True)
class Card:
    service: Service
    status: ServiceStatus
    spark: str  # SVG path
    reports_24h: int


@dataclass(frozen=True, slots=True)
class HomeView:
    cards: list[Card]
    active: list[IncidentRecord]
    recent: list[IncidentRecord]
    query: str


@dataclass(frozen=True, slots=True)
class ServiceView:
    service: Service
    group: Group | None
    siblings: list[Service]
    status: ServiceStatus
    incident: IncidentRecord | None  # the open one
    step: str
    chart: ReportChart
    reports_24h: int
    reports_hour: int
    problems: list[Share]
    problem_names: dict[str, str]  # the service's problems in the page's language
    countries: list[Share]
    map_levels: dict[str, int]
    incidents: list[IncidentRecord]
    probes: list[ProbeCard]
    vendor: VendorState | None  # the vendor's own word, when a source is registered
    vendor_line: Phrase | None  # its description, in words the page translates
    opening: ProbeOpening | None  # the open incident's, when panne's checks opened it
    # While an incident is open: what every signal says of it, beside the reports.
    evidence: Evidence | None
    fusion: Fusion | None
    likely_cause: str | None


@dataclass(frozen=True, slots=True)
class ProbeOpening:
    """An incident opened on probes alone, as its pages tell it, in the words of the feeds and
    notifications (``incident_text``): panne's checks failing, not a surge of reports."""

    cause: str | None  # the cause stored with it, in the page's language, to follow a colon
    probes: list[str]  # the ids of the probes that were down, named when no cause is stored
    superseded_by: str | None  # on a hand-over, the id of the report incident that went on
    successor: IncidentRecord | None  # that incident, when it is still stored


def probe_opening(node: Node, rec: IncidentRecord, lang: str) -> ProbeOpening | None:
    """How an incident opened on probes alone is told, or None for any other incident."""
    if not by_probes(rec.detail):
        return None
    successor = rec.detail.get("superseded_by")
    return ProbeOpening(
        cause=probe_failure(rec.detail, "cause_fr" if lang == "fr" else "cause"),
        probes=[str(p) for p in rec.detail.get("probes") or ()],
        superseded_by=str(successor) if successor else None,
        successor=incident_store.get(node.engine, str(successor)) if successor else None,
    )


@dataclass(frozen=True, slots=True)
class ProbeCard:
    """One probe of a service as its page shows it: what is checked, its state, its last run."""

    probe: StoredProbe
    target: str  # without credentials
    last: ProbeResult | None
    uptime: float | None  # the share of successful runs over the last 30 days, None if none ran

    @property
    def failure(self) -> Phrase | None:
        """What went wrong in the last run, in words the page translates."""
        if self.last is None or self.last.ok:
            return None
        return probe_detail(self.last.detail or "")


@dataclass(frozen=True, slots=True)
class IncidentView:
    incident: IncidentRecord
    timeline: list[IncidentEvent]
    children: list[IncidentRecord]
    parent: IncidentRecord | None
    services: list[Service]  # affected services, for links
    countries: list[Share]
    problems: list[Share]
    chart: ReportChart | None  # a service incident's reports around it
    evidence: Evidence  # what every signal said over the incident's window
    fusion: Fusion  # how far they agree, and the likely cause
    vendor_line: Phrase | None  # the vendor's description over the window, translatable
    peak_at: float | None  # when the peak rate was seen, when the record says
    updates: list[StatusUpdate]  # the operators' words, oldest first (a company's: its members')
    opening: ProbeOpening | None  # when panne's checks opened it, without reports
    likely_cause: str | None  # fusion's cause in the page's language, unless ``opening`` says it


@dataclass(frozen=True, slots=True)
class MapView:
    service: Service | None
    countries: list[Share]
    levels: dict[str, int]
    total: int


def _shares(totals: dict[str, int], name: dict[str, str] | None, lang: str) -> list[Share]:
    whole = sum(totals.values()) or 1
    return [
        Share(k, name.get(k, k) if name is not None else country_name(k, lang), n, n / whole)
        for k, n in sorted(totals.items(), key=lambda kv: -kv[1])
    ]


class SparkCache:
    """Sparklines of the last 24 hours, computed at most once a minute per set of services.

    The home page shows every service's day at 15-minute resolution: a scan of a day of counts
    (hundreds of thousands of rows at scale) that a minute-old answer serves just as well.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._cache: dict[tuple[int, tuple[int, ...]], dict[int, list[int]]] = {}

    def get(self, node: Node, service_ids: tuple[int, ...], now: float) -> dict[int, list[int]]:
        end = minute_of(now) + 60
        key = (end, service_ids)
        hit = self._cache.get(key)
        if hit is None:
            first = counts.align(end - DAY, SPARK_STEP)
            rows = count_store.services_bucketed(
                node.engine, first, end, SPARK_STEP, list(service_ids)
            )
            n = (end - first + SPARK_STEP - 1) // SPARK_STEP
            hit = {
                sid: [rows.get(sid, {}).get(first + i * SPARK_STEP, 0) for i in range(n)]
                for sid in service_ids
            }
            if len(self._cache) >= self.size:
                self._cache.clear()
            self._cache[key] = hit
        return hit


def cards(node: Node, services: list[Service], now: float, sparks: SparkCache) -> list[Card]:
    """Services with status and sparkline: outages first, then the most reported."""
    ids = {s.id: s.slug for s in services if s.id is not None}
    statuses = all_statuses(node.engine, ids, now)
    sparks_of = sparks.get(node, tuple(sorted(ids)), now)
    out = []
    for s in services:
        if s.id is not None:
            spark = sparks_of.get(s.id, [])
            out.append(Card(s, statuses[s.slug], sparkline(spark), sum(spark)))
    return sorted(out, key=lambda c: (STATE_ORDER[c.status.state], -c.reports_24h))


def home(node: Node, now: float, sparks: SparkCache, query: str = "") -> HomeView:
    shown = [s for s in node.catalog.services.values() if matches(s, query)]
    active, _ = incident_store.query(node.engine, active=True, limit=20)
    recent, _ = incident_store.query(node.engine, active=False, limit=8)
    # A group incident stands for its members: list it, not each child again.
    grouped = {i.parent_id for i in active if i.parent_id}
    active = [i for i in active if i.kind == "group" or i.parent_id not in grouped]
    return HomeView(cards(node, shown, now, sparks), active, recent, query)


def chart_for(
    node: Node, service: Service, start: float, end: float, step: str
) -> tuple[ReportChart, counts.CountSeries]:
    """Reports per bucket over the usual band, from stored counts and expectations; the series
    comes back split by problem, so the page needs no second scan of the same counts."""
    assert service.id is not None
    first, last, step_s = counts.plan(start, end, step)
    rows = count_store.bucketed(node.engine, service.id, first, last, step_s, "problem")
    series = counts.densify(rows, first, last, step_s)
    expected: dict[int, list[float]] = {}
    for e in expectation_store.series(node.engine, service.id, first, last):
        expected.setdefault(counts.align(e.minute, step_s), []).append(e.expected)
    starts = series.times()
    bands = [usual_band(expected[t]) if t in expected else None for t in starts]
    tick = 3 * HOUR if last - first > 6 * HOUR else HOUR if last - first > HOUR else 900
    return report_chart(starts, series.total, bands, x_tick_seconds=tick), series


def service(node: Node, svc: Service, now: float, step: str, lang: str) -> ServiceView:
    assert svc.id is not None
    cat = node.catalog
    status = all_statuses(node.engine, {svc.id: svc.slug}, now)[svc.slug]
    incident = incident_store.get(node.engine, status.incident_id) if status.incident_id else None
    end = minute_of(now) + 60
    chart, series = chart_for(node, svc, end - DAY, end, step)
    problems = {p: sum(per_bucket) for p, per_bucket in series.by.items()}
    hour = count_store.totals_by(node.engine, "country", end - HOUR, end, svc.id)
    names = {p: cat.problems[p].name(lang) for p in cat.problems}
    recent, _ = incident_store.query(node.engine, service=svc.slug, limit=10)
    countries = _shares(hour, None, lang)
    vendor = vendor_store.load_state(node.engine, svc.slug)
    opening = probe_opening(node, incident, lang) if incident is not None else None
    evidence = evidence_for(node.engine, incident, now) if incident is not None else None
    fusion = evidence.fuse() if evidence is not None else None
    return ServiceView(
        service=svc,
        group=cat.groups.get(svc.group) if svc.group else None,
        siblings=cat.siblings(svc.slug),
        status=status,
        incident=incident,
        step=step,
        chart=chart,
        reports_24h=sum(problems.values()),
        reports_hour=sum(hour.values()),
        problems=_shares(problems, names, lang),
        problem_names={p: names[p] for p in svc.problems},
        countries=countries,
        map_levels=shade_levels(hour),
        incidents=recent,
        probes=[
            ProbeCard(
                p,
                shown_target(p.spec),
                probe_defs.last_result(node.engine, p.spec.id),
                probe_uptime(node, p.spec.id, now),
            )
            for p in probe_defs.list_probes(node.engine, svc.slug)
            if not p.paused
        ],
        vendor=vendor,
        vendor_line=vendor_line(vendor.state, vendor.description) if vendor else None,
        opening=opening,
        evidence=evidence,
        fusion=fusion,
        likely_cause=likely_cause(fusion, opening, lang) if fusion is not None else None,
    )


def likely_cause(fusion: Fusion, opening: ProbeOpening | None, lang: str) -> str | None:
    """Fusion's cause in the page's language, unless the page already says it, in the sentence
    that says panne's checks opened the incident."""
    likely = fusion.cause_fr if lang == "fr" else fusion.cause
    if likely and opening is not None and opening.cause == inline(likely):
        return None
    return likely


def probe_uptime(node: Node, probe_id: str, now: float, days: int = 30) -> float | None:
    """Successful runs over all runs of the last ``days`` days (days without runs weigh
    nothing), as the service page's checks show it."""
    ran = [d for d in probe_store.uptime_by_day(node.engine, probe_id, days, now=now) if d.checks]
    checks = sum(d.checks for d in ran)
    if not checks:
        return None
    return sum((d.uptime_percent or 0.0) / 100 * d.checks for d in ran) / checks


def incident(node: Node, rec: IncidentRecord, now: float, lang: str) -> IncidentView:
    cat = node.catalog
    kids = incident_store.children(node.engine, rec.id) if rec.kind == "group" else []
    parent = incident_store.get(node.engine, rec.parent_id) if rec.parent_id else None
    slugs = rec.members if rec.kind == "group" else [rec.service or ""]
    services = [cat.services[s] for s in slugs if s in cat.services]
    names = {p: cat.problems[p].name(lang) for p in cat.problems}
    problems = [
        Share(p, names.get(p, p), None, pct / 100)
        for p, pct in sorted(rec.problems.items(), key=lambda kv: -kv[1])
        if pct > 0
    ]
    chart = None
    svc = cat.services.get(rec.service or "")
    if svc is not None and svc.id is not None:
        end = min((rec.ended_at or now) + 30 * 60, now + 60)
        start = rec.started_at - HOUR
        step = "1m" if end - start <= 6 * HOUR else "15m"
        chart, _ = chart_for(node, svc, start, end, step)
    evidence = evidence_for(node.engine, rec, now)
    vendor = evidence.vendor
    ids = [rec.id] + [k.id for k in kids]  # what was written on a member shows on its company's
    notes = update_store.for_incidents(node.engine, ids)
    updates = sorted((u for i in ids for u in notes.get(i, [])), key=lambda u: (u.created_at, u.id))
    fusion = evidence.fuse()
    opening = probe_opening(node, rec, lang)
    return IncidentView(
        incident=rec,
        timeline=incident_store.timeline(node.engine, rec.id),
        children=kids,
        parent=parent,
        services=services,
        countries=_shares(dict(rec.countries), None, lang),
        problems=problems,
        chart=chart,
        evidence=evidence,
        fusion=fusion,
        vendor_line=vendor_line(vendor.state, vendor.description) if vendor else None,
        peak_at=peak_time(rec, kids),
        updates=updates,
        opening=opening,
        likely_cause=likely_cause(fusion, opening, lang),
    )


def peak_time(rec: IncidentRecord, children: list[IncidentRecord]) -> float | None:
    """When the peak was seen: a service incident stores it in ``detail.peak_at``; a group's
    peak is its largest member's (the group machine picks it so), whose record says when."""
    if rec.peak_per_minute <= 0:
        return None  # opened on probes alone: no report peak to date
    if rec.kind == "group" and children:
        top = max(children, key=lambda c: c.peak_per_minute)
        return peak_time(top, []) if top.peak_per_minute == rec.peak_per_minute else None
    at = rec.detail.get("peak_at")
    return float(at) if isinstance(at, int | float) else None


def world(node: Node, svc: Service | None, now: float, lang: str) -> MapView:
    end = minute_of(now) + 60
    totals = count_store.totals_by(
        node.engine, "country", end - HOUR, end, svc.id if svc is not None else None
    )
    totals.pop("ZZ", None)  # unknown: no place on a map
    countries = _shares(totals, None, lang)
    return MapView(svc, countries, shade_levels(totals), sum(totals.values()))
