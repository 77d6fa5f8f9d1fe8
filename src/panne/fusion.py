"""Fusion: how much to believe an incident, and a first guess at why (pure, no I/O).

Crowd reports say people suffer; they do not say why, and a spike of a few dozen people in one
country may be a local provider or a news story. Outage observatories rank an event by how many
*independent* signals see it (crowd reports, active probes, the vendor's own status page, social
mentions), so panne does the same. :func:`fuse` takes what each signal said about one incident
(gathered from the store by ``fusion_store.py``) and returns a :class:`Fusion`: a confidence,
the signals that agree, and a plain-language cause in English and French.

The rules, in order:

- A signal *agrees* when: reports were seen at all (any peak); a probe of the incident's
  services failed in the incident's window (see :attr:`ProbeEvidence.failing`); the vendor's
  page said ``warn`` or ``down`` while it could be read, at some time in the window (a page we
  cannot read says nothing new, but what it said before it went stale stands; ``maintenance``
  is planned work, not an acknowledged outage); mentions rose to :data:`MENTION_RATIO` times
  their usual level with at least :data:`MENTION_MIN_PER_MINUTE`, once the mention detector
  has a baseline (its warm-up is over), or without one to :data:`MENTION_COLD_PER_MINUTE`, a
  burst no usual level explains (at a cold start every level is 0, and two posts are not news).
- Two or more agreeing signals → ``high``: reports confirmed by a failing probe or by the
  vendor, or probes confirmed by the vendor.
- Reports alone → ``medium`` when strong (peak ratio ≥ :data:`STRONG_RATIO` in at least two
  countries), else ``low``: a modest ratio or a single country is where false alarms live.
- Probes alone → ``medium`` when :func:`probes_alone_warrant_incident` (≥ 2 probes failing, or
  one down for ≥ :data:`PROBE_ALONE_DOWN_SECONDS`), else ``low``. The same function is what the
  incident machine will use to open an incident on probes alone.
- The vendor alone → ``medium`` when it says ``down``, ``low`` for ``warn``; mentions alone →
  ``low``; nothing → ``low``.

The cause comes from the failing probe that matters most now: one down now before one that
recovered, then the one down longest in the window, then the most specific error, in the order
of :data:`CAUSE_ORDER` (a DNS failure explains a timeout, a timeout does not explain a DNS
failure); it names the probe's host. Then the vendor's own incident name (in the past tense
when the page has recovered or cannot be read now); otherwise None. Pages are bilingual, so
every cause also comes in French from the small table :data:`PHRASES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

Confidence = Literal["low", "medium", "high"]
Signal = Literal["reports", "probes", "vendor", "mentions"]

STRONG_RATIO = 4.0  # peak over the usual level for reports alone to reach medium
STRONG_MIN_COUNTRIES = 2
PROBE_FAIL_RUNS = 2  # failed runs in the window that count as failing (the default fail_after)
PROBE_ALONE_DOWN_SECONDS = 180.0
MENTION_RATIO = 3.0
MENTION_MIN_PER_MINUTE = 2.0
MENTION_COLD_PER_MINUTE = 30.0  # without a baseline: posts a minute that are news on their own

# Most specific first: among the errors of the probe that names the cause, the first wins.
CAUSE_ORDER: tuple[str, ...] = (
    "dns_failure",
    "tls_error",
    "connection_refused",
    "unreachable",
    "timeout",
    "http_5xx",
    "keyword_missing",
    "json_mismatch",
    "http_4xx",
    "cert_expiring",
    "other",
)

# error class → (English, French); {host} and {code} are filled in.
PHRASES: dict[str, tuple[str, str]] = {
    "dns_failure": (
        "DNS resolution fails for {host} from this node",
        "La résolution DNS de {host} échoue depuis ce nœud",
    ),
    "tls_error": ("TLS handshake fails for {host}", "La négociation TLS avec {host} échoue"),
    "connection_refused": ("Connection refused by {host}", "Connexion refusée par {host}"),
    "unreachable": (
        "{host} is unreachable from this node",
        "{host} est injoignable depuis ce nœud",
    ),
    "timeout": ("{host} does not answer in time", "{host} ne répond pas à temps"),
    "http_5xx": ("{host} answers HTTP {code}", "{host} répond HTTP {code}"),
    "http_4xx": ("{host} answers HTTP {code}", "{host} répond HTTP {code}"),
    "keyword_missing": (
        "{host} answers without its expected content",
        "{host} répond sans son contenu attendu",
    ),
    "json_mismatch": (
        "{host} answers without its expected JSON",
        "{host} répond sans le JSON attendu",
    ),
    "cert_expiring": (
        "The TLS certificate of {host} is about to expire",
        "Le certificat TLS de {host} expire bientôt",
    ),
    "other": ("Checks of {host} fail", "Les vérifications de {host} échouent"),
}
VENDOR_PHRASES: dict[str, tuple[str, str]] = {
    "down": (
        "{name}'s status page reports a major outage",
        "La page de statut de {name} signale une panne majeure",
    ),
    "warn": (
        "{name}'s status page reports a partial outage",
        "La page de statut de {name} signale une panne partielle",
    ),
    "maintenance": (
        "{name}'s status page reports maintenance",
        "La page de statut de {name} signale une maintenance",
    ),
}
# What the page said in the window, when it says something else now or cannot be read.
VENDOR_PAST_PHRASES: dict[str, tuple[str, str]] = {
    "down": (
        "{name}'s status page reported a major outage",
        "La page de statut de {name} a signalé une panne majeure",
    ),
    "warn": (
        "{name}'s status page reported a partial outage",
        "La page de statut de {name} a signalé une panne partielle",
    ),
    "maintenance": (
        "{name}'s status page reported maintenance",
        "La page de statut de {name} a signalé une maintenance",
    ),
}
_RANK = {"unknown": -1, "up": 0, "maintenance": 1, "warn": 2, "down": 3}
_CODE = re.compile(r"\b([1-5]\d\d)\b")


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """The crowd's side, from the incident itself."""

    peak_per_minute: float
    peak_ratio: float
    countries: tuple[tuple[str, int], ...] = ()

    @property
    def seen(self) -> bool:
        return self.peak_per_minute > 0

    @property
    def strong(self) -> bool:
        return self.peak_ratio >= STRONG_RATIO and len(self.countries) >= STRONG_MIN_COUNTRIES


@dataclass(frozen=True, slots=True)
class ProbeEvidence:
    """One probe of one of the incident's services, over the incident's window.

    ``down_seconds`` is how long the probe was *down* (its hysteresis, not single failed runs)
    inside the window; ``failures`` counts failed runs by error class; ``sample`` keeps one
    failure's detail per class (an HTTP status, a resolver's message).
    """

    probe_id: str
    service: str
    kind: str
    target: str
    state: str  # up | down | unknown: the probe's state now
    since: float | None = None
    down_seconds: float = 0.0
    checks: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    sample: dict[str, str] = field(default_factory=dict)
    first_failure_at: float | None = None
    last_at: float | None = None
    last_ok: bool | None = None
    last_error: str | None = None

    @property
    def failed_runs(self) -> int:
        return sum(self.failures.values())

    @property
    def failing(self) -> bool:
        """Down at some time in the window, or failed there at least twice."""
        return self.down_seconds > 0 or self.failed_runs >= PROBE_FAIL_RUNS

    @property
    def host(self) -> str:
        """The name a person recognises in the target: a URL's host, ``host`` of host:port."""
        if "://" in self.target:
            return urlsplit(self.target).hostname or self.target
        if self.target.startswith("["):
            return self.target[1:].partition("]")[0]
        if self.target.count(":") == 1:
            return self.target.partition(":")[0]
        return self.target


@dataclass(frozen=True, slots=True)
class VendorEvidence:
    """The vendor's page for one service: its last known state (``stale`` when the latest poll
    failed: the state, description and incidents are then those of the last good read, at
    ``fetched_at``), and what it said while it could be read during the window."""

    service: str
    name: str  # how people call the vendor, for the cause ("Meta", "GitHub")
    state: str  # up | warn | down | maintenance | unknown: the last known word
    description: str = ""
    incidents: tuple[str, ...] = ()
    stale: bool = False
    # The states the page showed, read successfully, during the window (the one it showed as
    # the window began included): a later failed poll does not take them back.
    states_in_window: tuple[str, ...] = ()
    fetched_at: float | None = None  # the last successful read (epoch seconds)

    @property
    def said(self) -> tuple[str, ...]:
        """Every word the page said, read fresh, in the window (its current one if fresh)."""
        return (*self.states_in_window, *(() if self.stale else (self.state,)))

    @property
    def worst(self) -> str:
        """The worst word the page said in the window while it could be read, so a resolved
        incident keeps its vendor's word and a page gone stale keeps what it said; ``unknown``
        when it said nothing readable in the window."""
        return max(self.said, key=lambda s: _RANK.get(s, -1), default="unknown")

    @property
    def acknowledges(self) -> bool:
        return self.worst in ("warn", "down")


@dataclass(frozen=True, slots=True)
class MentionEvidence:
    """Social mentions of the services: the peak per minute against the usual level.

    ``baseline`` says whether the usual level is one: the mention detector past its warm-up.
    Before that (a first start, a service just added) the usual level is whatever little it
    has seen, often 0, against which any two posts would be "elevated".
    """

    peak_per_minute: float
    usual_per_minute: float
    baseline: bool

    @property
    def elevated(self) -> bool:
        if not self.baseline:
            return self.peak_per_minute >= MENTION_COLD_PER_MINUTE
        usual = max(self.usual_per_minute, 0.1)
        return (
            self.peak_per_minute >= MENTION_MIN_PER_MINUTE
            and self.peak_per_minute / usual >= MENTION_RATIO
        )


@dataclass(frozen=True, slots=True)
class Fusion:
    confidence: Confidence
    cause: str | None
    cause_fr: str | None
    signals: list[Signal]


def probes_alone_warrant_incident(probes: list[ProbeEvidence]) -> bool:
    """Whether probes, with no one reporting, fail clearly enough to call it an outage: two
    probes down (two views rarely fail by the same accident), or one down for three minutes
    (a blip of the probing node's own network is over by then)."""
    down = [p for p in probes if p.down_seconds > 0]
    return len(down) >= 2 or any(p.down_seconds >= PROBE_ALONE_DOWN_SECONDS for p in probes)


def probe_cause(probes: list[ProbeEvidence]) -> tuple[str, str] | None:
    """The failure that explains the incident best, in English and French: of the failing
    probes, one down now first (a probe long recovered explains nothing about now), then the
    one down longest in the window, then the most specific error class; more failures of the
    same class break a tie."""
    order = {error: i for i, error in enumerate(CAUSE_ORDER)}
    candidates = [
        (p, error) for p in probes if p.failing for error, n in p.failures.items() if n > 0
    ]
    if not candidates:
        return None
    probe, error = min(
        candidates,
        key=lambda c: (
            c[0].state != "down",
            -c[0].down_seconds,
            order.get(c[1], len(order)),
            -c[0].failures[c[1]],
        ),
    )
    found = _CODE.search(probe.sample.get(error, ""))
    code = found.group(1) if found else ("5xx" if error == "http_5xx" else "4xx")
    en, fr = PHRASES.get(error, PHRASES["other"])
    return en.format(host=probe.host, code=code), fr.format(host=probe.host, code=code)


def vendor_cause(vendor: VendorEvidence | None) -> tuple[str, str] | None:
    """The vendor's worst readable word in the window, with its incident's name when that
    word is still its last known one; in the past tense once it says otherwise or cannot be
    read."""
    if vendor is None or vendor.worst not in VENDOR_PHRASES:
        return None
    current = vendor.state == vendor.worst
    table = VENDOR_PHRASES if current and not vendor.stale else VENDOR_PAST_PHRASES
    en, fr = (s.format(name=vendor.name) for s in table[vendor.worst])
    what = (vendor.incidents[0] if vendor.incidents else vendor.description) if current else ""
    return (f"{en}: {what}", f"{fr} : {what}") if what else (en, fr)


def fuse(
    reports: ReportEvidence,
    probes: list[ProbeEvidence],
    vendor: VendorEvidence | None,
    mentions: MentionEvidence | None,
) -> Fusion:
    """Confidence, agreeing signals and cause of one incident (rules in the module docstring)."""
    signals: list[Signal] = []
    if reports.seen:
        signals.append("reports")
    if any(p.failing for p in probes):
        signals.append("probes")
    if vendor is not None and vendor.acknowledges:
        signals.append("vendor")
    if mentions is not None and mentions.elevated:
        signals.append("mentions")
    confidence: Confidence
    if len(signals) >= 2:
        confidence = "high"
    elif signals == ["reports"]:
        confidence = "medium" if reports.strong else "low"
    elif signals == ["probes"]:
        confidence = "medium" if probes_alone_warrant_incident(probes) else "low"
    elif signals == ["vendor"]:
        confidence = "medium" if vendor is not None and vendor.worst == "down" else "low"
    else:
        confidence = "low"
    cause = probe_cause(probes) or vendor_cause(vendor)
    return Fusion(
        confidence,
        None if cause is None else cause[0],
        None if cause is None else cause[1],
        signals,
    )
