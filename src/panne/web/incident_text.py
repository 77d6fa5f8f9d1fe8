"""Incidents in plain English: the bodies of Statuspage incident updates and the summaries of
the RSS and Atom feeds, written once so that both say the same thing the same way.

An incident opened on probes alone (``opened_by: "probes"`` in its detail and its events'
snapshots) has no reports, peak or countries to tell: it is worded for what it is, panne's
checks failing, with the cause fusion names (``cause`` in the detail or snapshot, as
``fusion_store.probe_incident_cause`` gives it) or else the probes that are down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from panne.catalog import Catalog
from panne.clock import utc
from panne.signals.countries import country_name
from panne.store.incidents import IncidentRecord


def countries_phrase(countries: Iterable[Sequence[Any]], top: int = 3) -> str:
    names = [country_name(str(c[0])) for c in list(countries)[:top]]
    return names[0] if len(names) < 2 else f"{', '.join(names[:-1])} and {names[-1]}"


def problems_phrase(problems: dict[str, float], catalog: Catalog, top: int = 3) -> str:
    def name(slug: str) -> str:
        p = catalog.problems.get(slug)
        return p.name() if p else slug

    return ", ".join(f"{name(s)} {pct:.0f}%" for s, pct in list(problems.items())[:top])


def by_probes(data: Mapping[str, Any]) -> bool:
    """Whether an incident's detail, or one of its events' snapshots, is of an incident opened
    on probes alone."""
    return data.get("opened_by") == "probes"


def probes_down(data: Mapping[str, Any]) -> str:
    """What a probe incident says failed, without a cause: its probes down, by id."""
    ids = [str(i) for i in data.get("probes") or ()]
    if not ids:
        return "its probes are down"
    if len(ids) == 1:
        return f"probe {ids[0]} is down"
    return f"probes {', '.join(ids[:-1])} and {ids[-1]} are down"


def probe_failure(data: Mapping[str, Any], key: str = "cause") -> str | None:
    """The failure a probe incident reports, to follow a colon: fusion's cause when stored
    (``cause``, or ``cause_fr``), else None."""
    cause = str(data.get(key) or "")
    return inline(cause) if cause else None


def inline(sentence: str) -> str:
    """A sentence as the continuation of another: its first letter lowercased unless it
    begins an acronym ("Connection refused by …" → "connection …", "DNS …" stays)."""
    if len(sentence) > 1 and sentence[0].isupper() and not sentence[1].isupper():
        return sentence[0].lower() + sentence[1:]
    return sentence


def probe_update_body(kind: str, snap: Mapping[str, Any], subject: str) -> str:
    """One timeline entry of an incident opened on probes alone."""
    if kind == "resolved" and snap.get("superseded_by"):
        return (
            f"Problem reports for {subject} now confirm what panne's checks saw: the incident"
            f" goes on as {snap['superseded_by']}."
        )
    if kind == "resolved":
        return f"panne's checks of {subject} pass again. Resolved."
    still = " still" if kind != "opened" else ""
    return (
        f"panne's checks of {subject}{still} fail: {probe_failure(snap) or probes_down(snap)}."
        " No surge of problem reports so far."
    )


def update_body(
    kind: str, snap: dict[str, Any], subject: str, catalog: Catalog, added: Sequence[str]
) -> str:
    """One timeline entry in plain English (what the entry's snapshot says)."""
    if by_probes(snap):
        return probe_update_body(kind, snap, subject)
    if kind == "resolved":
        return f"Problem reports for {subject} are back to the usual level. Resolved."
    lead = {
        "opened": f"panne is seeing a surge of problem reports for {subject}",
        "reopened": f"Problem reports for {subject} rose again soon after they had settled",
        "updated": f"Problem reports for {subject} keep coming",
    }.get(kind, f"Problem reports for {subject}")
    if kind == "member_added" and added:
        lead = f"Now also affected: {', '.join(added)}"
    parts = [f"{lead}: about {snap.get('peak_per_minute', 0):.0f} a minute at the peak"]
    parts[0] += f", {snap.get('peak_ratio', 0):.1f} times the usual."
    if snap.get("countries"):
        parts.append(f"Most come from {countries_phrase(snap['countries'])}.")
    if snap.get("problems"):
        parts.append(f"Top problems: {problems_phrase(snap['problems'], catalog)}.")
    return " ".join(parts)


def when(ts: float) -> str:
    """``15:20 UTC on 5 March 2024``: feeds are read in every time zone, so UTC, said so."""
    t = utc(ts)
    return f"{t:%H:%M} UTC on {t.day} {t:%B %Y}"


def duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def incident_summary(rec: IncidentRecord, catalog: Catalog) -> str:
    """What a feed item says of an incident: since when, where, which problems, and whether it
    is over, so a reader of the feed alone knows what happened."""
    svc = catalog.services.get(rec.service or "")
    group = catalog.groups.get(rec.group or "")
    subject = svc.name if svc else rec.title
    if by_probes(rec.detail):
        return probe_summary(rec, subject)
    if rec.kind == "group" and group is not None:
        subject = f"several {group.name} services"
    parts = [
        f"Problem reports for {subject} since {when(rec.started_at)}"
        f" (detected at {utc(rec.detected_at):%H:%M} UTC)."
    ]
    if rec.kind == "group" and rec.members:
        names = [catalog.services[m].name if m in catalog.services else m for m in rec.members]
        parts.append(f"Services affected: {', '.join(names)}.")
    if rec.countries:
        parts.append(f"Most reports from {countries_phrase(rec.countries)}.")
    if rec.problems:
        parts.append(f"Top problems: {problems_phrase(rec.problems, catalog)}.")
    parts.append(
        f"Peak: {rec.peak_per_minute:.0f} reports a minute, {rec.peak_ratio:.1f} times the usual."
    )
    if rec.status == "resolved" and rec.ended_at is not None:
        parts.append(
            f"Resolved: back to normal at {when(rec.ended_at)},"
            f" after {duration(rec.ended_at - rec.started_at)}."
        )
    else:
        parts.append("Ongoing.")
    return " ".join(parts)


def probe_summary(rec: IncidentRecord, subject: str) -> str:
    """A feed item's summary of an incident opened on probes alone."""
    parts = [
        f"panne's checks of {subject} fail: {probe_failure(rec.detail) or probes_down(rec.detail)},"
        f" since"
        f" {when(rec.started_at)} (detected at {utc(rec.detected_at):%H:%M} UTC)."
    ]
    superseded = rec.detail.get("superseded_by")
    if rec.status == "resolved" and superseded:
        parts.append(f"Problem reports followed: the incident goes on as {superseded}.")
    elif rec.status == "resolved" and rec.ended_at is not None:
        parts.append(
            f"Resolved: the checks passed again at {when(rec.ended_at)},"
            f" after {duration(rec.ended_at - rec.started_at)}."
        )
    else:
        parts.append("No surge of problem reports so far. Ongoing.")
    return " ".join(parts)
