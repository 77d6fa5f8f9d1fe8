"""What a notification says: the incident stated plainly, in the subscriber's language.

English reuses the sentences of :mod:`panne.web.incident_text` (the feeds and the Statuspage API
say the same thing the same way). French lives in the small table below rather than in the
Babel catalogs: babel.cfg extracts messages from the Jinja templates only, and these sentences
are built in Python with several variables each. An incident opened on probes alone is told as
panne's checks failing (its cause, ``cause_fr`` in French, else its probes down), never as a
surge of reports it did not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from babel.dates import format_datetime

from panne.catalog import Catalog
from panne.clock import iso_utc, utc
from panne.signals.countries import country_name
from panne.store.incidents import IncidentEvent, IncidentRecord
from panne.web import incident_text

LANGUAGES = ("en", "fr")

SUBJECTS: dict[str, dict[str, str]] = {
    "en": {
        "opened": "{name} is having problems",
        "updated": "{name}: update",
        "member_added": "{name}: more services affected",
        "reopened": "{name}: problems are back",
        "resolved": "{name} is back to normal",
        "superseded": "{name}: problems confirmed by reports",
    },
    "fr": {
        "opened": "{name} rencontre des problèmes",
        "updated": "{name} : point de situation",
        "member_added": "{name} : d'autres services touchés",
        "reopened": "{name} : les problèmes sont de retour",
        "resolved": "{name} fonctionne de nouveau normalement",
        "superseded": "{name} : problèmes confirmés par les signalements",
    },
}

FR: dict[str, str] = {
    "opened": "panne constate un afflux de signalements de problèmes pour {name}",
    "updated": "Les signalements de problèmes pour {name} continuent",
    "member_added": "Services désormais touchés aussi : {added}",
    "reopened": "Les signalements de problèmes pour {name} repartent à la hausse",
    "resolved": "Les signalements de problèmes pour {name} sont revenus au niveau habituel.",
    "peak": "{lead} : environ {peak:.0f} par minute au plus fort, {ratio} fois l'habituel.",
    "countries": "La plupart viennent de {countries}.",
    "problems": "Principaux problèmes : {problems}.",
    "since": "Depuis {when}.",
    "ended": "Fin à {when}, après {duration}.",
    "severity": "Gravité : {severity}.",
    "members": "Services touchés : {members}.",
    "details": "Détails : {link}",
    "minor": "mineure",
    "major": "majeure",
    "critical": "critique",
    # Incidents opened on probes alone.
    "probes_opened": "Les vérifications de {name} par panne échouent : {failure}.",
    "probes_updated": "Les vérifications de {name} par panne échouent toujours : {failure}.",
    "probes_quiet": "Pas d'afflux de signalements de problèmes pour l'instant.",
    "probes_resolved": "Les vérifications de {name} par panne réussissent de nouveau.",
    "probes_superseded": (
        "Les signalements de problèmes pour {name} confirment ce que voyaient les vérifications"
        " de panne : l'incident continue sous {incident}."
    ),
    "probe_down": "la sonde {ids} est en échec",
    "probes_down": "les sondes {ids} sont en échec",
    "probes_any_down": "ses sondes sont en échec",
}


@dataclass(frozen=True)
class Message:
    """One notification, the same for every channel: webhooks send it all as JSON, Apprise
    channels send ``subject`` and ``text``."""

    event_id: int
    incident_id: str
    kind: str  # opened | updated | member_added | reopened | resolved
    service: str | None
    services: list[str]
    group: str | None
    title: str
    severity: str
    since: float
    ended_at: float | None
    countries: list[tuple[str, int]]
    problems: dict[str, float]
    link: str
    language: str
    subject: str
    text: str

    def to_json(self) -> dict[str, Any]:
        """The webhook body: the facts as data, and the sentences for humans."""
        return {
            "event_id": self.event_id,
            "incident_id": self.incident_id,
            "kind": self.kind,
            "service": self.service,
            "services": self.services,
            "group": self.group,
            "title": self.title,
            "severity": self.severity,
            "since": iso_utc(self.since),
            "ended_at": None if self.ended_at is None else iso_utc(self.ended_at),
            "countries": [{"country": c, "reports": n} for c, n in self.countries],
            "top_problems": [{"problem": p, "percent": v} for p, v in self.problems.items()],
            "link": self.link,
            "language": self.language,
            "subject": self.subject,
            "text": self.text,
        }


def _fr_when(ts: float) -> str:
    return format_datetime(utc(ts), "H 'h' mm 'UTC le' d MMMM y", locale="fr")


def _fr_duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _fr_list(names: Sequence[str]) -> str:
    return names[0] if len(names) < 2 else f"{', '.join(names[:-1])} et {names[-1]}"


def compose(
    ev: IncidentEvent,
    kind: str,
    rec: IncidentRecord,
    catalog: Catalog,
    *,
    language: str,
    base_url: str,
    added: Sequence[str] = (),
) -> Message:
    """The message of event ``ev`` of incident ``rec``, as ``kind`` (the dispatcher may send a
    reopening as the event it is), in ``language``."""
    lang = language if language in LANGUAGES else "en"
    snap = ev.snapshot
    svc = catalog.services.get(rec.service or "")
    group = catalog.groups.get(rec.group or "")
    name = svc.name if svc else (group.name if group and rec.kind == "group" else rec.title)
    slugs = [str(m) for m in snap.get("members") or rec.members]  # members at the time
    members = [catalog.services[m].name if m in catalog.services else m for m in slugs]
    added_names = [catalog.services[m].name if m in catalog.services else m for m in added]
    countries = [(str(c), int(n)) for c, n in snap.get("countries", rec.countries)]
    problems = {str(k): float(v) for k, v in snap.get("problems", rec.problems).items()}
    severity = str(snap.get("severity", rec.severity))
    link = f"{base_url.rstrip('/')}/incidents/{rec.id}"
    told = kind
    if kind == "resolved" and incident_text.by_probes(snap) and snap.get("superseded_by"):
        told = "superseded"  # not back to normal: the report incident goes on with it
    subject = "[panne] " + SUBJECTS[lang].get(told, SUBJECTS[lang]["updated"]).format(name=name)
    if lang == "en":
        subject_phrase = name if rec.kind == "service" else f"{name} ({', '.join(members)})"
        parts = [incident_text.update_body(kind, snap, subject_phrase, catalog, added_names)]
        parts.append(f"Since {incident_text.when(rec.started_at)}.")
        if kind == "resolved" and rec.ended_at is not None:
            parts.append(
                f"Ended at {incident_text.when(rec.ended_at)},"
                f" after {incident_text.duration(rec.ended_at - rec.started_at)}."
            )
        else:
            parts.append(f"Severity: {severity}.")
        parts.append(f"Details: {link}")
    else:
        if incident_text.by_probes(snap):
            parts = _french_probes(kind, snap, name)
        else:
            parts = _french(kind, snap, name, members, added_names, catalog, countries, problems)
        parts.append(FR["since"].format(when=_fr_when(rec.started_at)))
        if kind == "resolved" and rec.ended_at is not None:
            spent = _fr_duration(rec.ended_at - rec.started_at)
            parts.append(FR["ended"].format(when=_fr_when(rec.ended_at), duration=spent))
        else:
            parts.append(FR["severity"].format(severity=FR.get(severity, severity)))
        parts.append(FR["details"].format(link=link))
    return Message(
        event_id=ev.id,
        incident_id=rec.id,
        kind=kind,
        service=rec.service,
        services=[rec.service] if rec.service else slugs,
        group=rec.group,
        title=rec.title,
        severity=severity,
        since=rec.started_at,
        ended_at=rec.ended_at if kind == "resolved" else None,
        countries=countries[:5],
        problems=dict(list(problems.items())[:3]),
        link=link,
        language=lang,
        subject=subject,
        text=" ".join(parts),
    )


def _french(
    kind: str,
    snap: dict[str, Any],
    name: str,
    members: list[str],
    added: list[str],
    catalog: Catalog,
    countries: list[tuple[str, int]],
    problems: dict[str, float],
) -> list[str]:
    if kind == "resolved":
        return [FR["resolved"].format(name=name)]
    if kind == "member_added" and added:
        lead = FR["member_added"].format(added=", ".join(added))
    else:
        lead = FR.get(kind, FR["updated"]).format(name=name)
    ratio = f"{float(snap.get('peak_ratio', 0)):.1f}".replace(".", ",")
    parts = [FR["peak"].format(lead=lead, peak=float(snap.get("peak_per_minute", 0)), ratio=ratio)]
    if len(members) > 1:
        parts.append(FR["members"].format(members=", ".join(members)))
    if countries:
        names = [country_name(c, "fr") for c, _ in countries[:3]]
        parts.append(FR["countries"].format(countries=_fr_list(names)))
    if problems:

        def label(slug: str) -> str:
            p = catalog.problems.get(slug)
            return p.name("fr") if p else slug

        listed = ", ".join(f"{label(s)} {pct:.0f} %" for s, pct in list(problems.items())[:3])
        parts.append(FR["problems"].format(problems=listed))
    return parts


def _french_probes(kind: str, snap: dict[str, Any], name: str) -> list[str]:
    """An incident opened on probes alone, in French (see ``incident_text.probe_update_body``)."""
    if kind == "resolved" and snap.get("superseded_by"):
        return [FR["probes_superseded"].format(name=name, incident=snap["superseded_by"])]
    if kind == "resolved":
        return [FR["probes_resolved"].format(name=name)]
    failure = incident_text.probe_failure(snap, "cause_fr")
    if failure is None:
        ids = [str(i) for i in snap.get("probes") or ()]
        key = "probe_down" if len(ids) == 1 else "probes_down" if ids else "probes_any_down"
        failure = FR[key].format(ids=_fr_list(ids) if ids else "")
    lead = FR["probes_opened" if kind == "opened" else "probes_updated"]
    return [lead.format(name=name, failure=failure), FR["probes_quiet"]]
