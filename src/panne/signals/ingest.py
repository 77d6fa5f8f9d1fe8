"""From a request's reports to committed rows: the whole ingest decision in one place.

The web layer parses and hands over; this module checks each report against the catalog, finds
its country, fingerprints its reporter, applies the rate limits and the dedupe, and waits for
the writer's commit. Every refusal is an :class:`IngestError` carrying the HTTP status and the
words of the problem, so the web layer only renders it.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from panne.bus import LogUnavailable, ReportLog
from panne.catalog import Catalog, Service
from panne.clock import Clock
from panne.signals.countries import COUNTRY_CODES
from panne.signals.geo import GeoLocator, network_of
from panne.signals.ratelimit import TokenBuckets, retry_after_header
from panne.signals.reports import (
    UNKNOWN_COUNTRY,
    BatchItem,
    Deduper,
    Fingerprinter,
    Report,
    ReportIn,
    new_report_id,
    new_report_ids,
)
from panne.store.keys import ApiKey
from panne.store.writer import Tally

log = logging.getLogger(__name__)
EARLIEST_TIMESTAMP = 946_684_800.0  # 2000-01-01: older "timestamps" are mistakes
FUTURE_TOLERANCE_SECONDS = 300.0


@dataclass
class IngestError(Exception):
    status: int
    title: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Client:
    """Who is reporting, as far as ingest may know: used, then forgotten."""

    address: str | None
    user_agent: str


class Ingestor:
    def __init__(
        self,
        catalog: Catalog,
        *,
        clock: Clock,
        geo: GeoLocator,
        fingerprinter: Fingerprinter,
        writer: ReportLog,
        dedupe_window_seconds: float,
        reporter_limit: TokenBuckets | None,
        network_limit: TokenBuckets | None,
    ) -> None:
        self.catalog = catalog
        self._clock = clock
        self._geo = geo
        self._fingerprinter = fingerprinter
        self._writer = writer
        self.deduper = Deduper(dedupe_window_seconds)
        self._reporter_limit = reporter_limit
        self._network_limit = network_limit

    def set_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- single reports, from people -------------------------------------------------------

    async def accept(self, item: ReportIn, client: Client, source: str = "web") -> Report:
        report = self.prepare(item, client, source)
        await self._write((report,))
        return report

    async def _write(self, reports: Sequence[Report], tally: Tally | None = None) -> None:
        try:
            await self._writer.write(reports, tally)
        except Exception as exc:  # (a cancelled request's reports may still be committed)
            for r in reports:  # not accepted: a retry by the same people must count
                if r.counted and r.reporter is not None:
                    self.deduper.forget(r.reporter, r.service_id, r.occurred_ms)
            if not isinstance(exc, LogUnavailable):
                raise
            # The stream is away: nothing was accepted, and the client may try again.
            log.warning("%d reports refused: %s", len(reports), exc)
            raise IngestError(
                503,
                "Service unavailable",
                "reports cannot be stored right now; try again in a few seconds",
                headers={"Retry-After": "5"},
            ) from None

    def prepare(self, item: ReportIn, client: Client, source: str) -> Report:
        now = self._clock.now()
        service = self._service(item.service)
        problem = self._problem(service, item.problem)
        country = self._country(item.country, client.address)
        reporter = earlier = None
        if client.address is not None:
            reporter = self._fingerprinter.reporter(now, client.address, client.user_agent)
            earlier = self._fingerprinter.yesterdays(
                now, client.address, client.user_agent, self.deduper.window_seconds
            )
            self._limit(reporter, client.address, now)
        counted = self.deduper.first_in_window(reporter, _id(service), now, earlier)
        now_ms = int(now * 1000)
        return Report(
            new_report_id(now_ms),
            _id(service),
            problem,
            country,
            now_ms,
            now_ms,
            reporter,
            counted,
            source,
        )

    # -- batches, from API keys ------------------------------------------------------------

    async def accept_batch(
        self, items: Sequence[BatchItem], key: ApiKey, client: Client
    ) -> list[Report]:
        reports, tally = self.prepare_batch_counted(items, key, client)
        await self._write(reports, tally)
        return reports

    def prepare_batch(
        self, items: Sequence[BatchItem], key: ApiKey, client: Client
    ) -> list[Report]:
        return self.prepare_batch_counted(items, key, client)[0]

    def prepare_batch_counted(
        self, items: Sequence[BatchItem], key: ApiKey, client: Client
    ) -> tuple[list[Report], Tally]:
        """All or nothing: the first bad report refuses the whole batch, naming its index.

        Returns the reports and their per-minute counts. Batches repeat the same few
        (service, problem, country) triples thousands of times, so each triple is checked
        once per batch, and the counts are summed here per distinct key rather than by the
        writer per report.
        """
        now = self._clock.now()
        now_ms = int(now * 1000)
        now_minute = now_ms // 60_000 * 60
        seen: dict[tuple[str, str, str | None], tuple[int, str, str]] = {}
        # Reports without timestamp and reporter (the usual batch) share everything but the
        # id: one row template and one count per distinct item.
        plain: dict[BatchItem, int] = {}
        templates: list[tuple[int, str, str]] = []
        order: list[int] = []  # per report: its template, or -1 for a detailed report
        detailed: list[tuple[int, str, str, float, str | None, str | None]] = []
        for i, item in enumerate(items):
            t = plain.get(item)
            if t is not None:
                order.append(t)
                continue
            service_slug, problem_slug, country_given, ts, reporter_id = item
            triple = (service_slug, problem_slug, country_given)
            try:
                valid = seen.get(triple)
                if valid is None:
                    service = self._service(service_slug)
                    valid = (
                        _id(service),
                        self._problem(service, problem_slug),
                        self._country(country_given, None),
                    )
                    seen[triple] = valid
                occurred = now if ts is None else self._timestamp(ts, key, now)
            except IngestError as exc:
                exc.detail = f"report {i}: {exc.detail}"
                exc.extra["index"] = i
                raise
            if ts is None and reporter_id is None:
                plain[item] = len(templates)
                order.append(len(templates))
                templates.append(valid)
                continue
            reporter = earlier = None
            if reporter_id is not None:
                source = f"key:{key.id}"
                reporter = self._fingerprinter.reporter(now, source, reporter_id)
                earlier = self._fingerprinter.yesterdays(
                    now, source, reporter_id, self.deduper.window_seconds
                )
            order.append(-1)
            detailed.append((*valid, occurred, reporter, earlier))
        first = self.deduper.first_in_window
        ids = new_report_ids(now_ms, len(order))
        # The rows of the usual report, but for the id, in the order of the ``reports`` table.
        tails = [
            (sid, p, c, now_ms, now_ms, None, True, "batch", key.id) for sid, p, c in templates
        ]
        make = Report._make
        out: list[Report] = []
        tally: Tally = {}
        per_template = [0] * len(templates)
        rest = iter(detailed)
        for report_id, t in zip(ids, order, strict=True):
            if t >= 0:
                per_template[t] += 1
                out.append(make((report_id, *tails[t])))
                continue
            service_id, problem, country, occurred, reporter, earlier = next(rest)
            occurred_ms = int(occurred * 1000)
            counted = first(reporter, service_id, occurred, earlier)
            if occurred_ms != now_ms:
                report_id = new_report_id(occurred_ms)
            out.append(
                Report(
                    report_id,
                    service_id,
                    problem,
                    country,
                    occurred_ms,
                    now_ms,
                    reporter,
                    counted,
                    "batch",
                    key.id,
                )
            )
            if counted:
                k = (service_id, occurred_ms // 60_000 * 60, country, problem)
                tally[k] = tally.get(k, 0) + 1
        for (sid, p, c), n in zip(templates, per_template, strict=True):
            if n:
                k = (sid, now_minute, c, p)
                tally[k] = tally.get(k, 0) + n
        return out, tally

    # -- the checks --------------------------------------------------------------------------

    def _service(self, slug: str) -> Service:
        service = self.catalog.services.get(slug)
        if service is None:
            close = close_matches(self.catalog, slug)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise IngestError(
                422,
                "Unknown service",
                f"service {slug!r} is not in the catalog{hint}",
                {"field": "service", "see": "/api/v1/services", "close_matches": close},
            )
        return service

    def _problem(self, service: Service, problem: str) -> str:
        if problem not in service.problems:
            raise IngestError(
                422,
                "Unknown problem",
                f"problem {problem!r} is not one of {service.slug}'s problems",
                {"field": "problem", "allowed": list(service.problems)},
            )
        return problem

    def _country(self, given: str | None, address: str | None) -> str:
        if given is not None:
            code = given.upper()
            if code not in COUNTRY_CODES:
                raise IngestError(
                    422,
                    "Unknown country",
                    f"country {given!r} is not an ISO 3166-1 alpha-2 code",
                    {"field": "country"},
                )
            return code
        if address is None:
            return UNKNOWN_COUNTRY
        return self._geo.country(address) or UNKNOWN_COUNTRY

    def _timestamp(self, ts: float | None, key: ApiKey, now: float) -> float:
        if ts is None:
            return now
        if not key.trusted:
            raise IngestError(
                403,
                "Timestamps need a trusted key",
                "this API key may not set timestamps: create one with "
                "`panne apikey create NAME --trusted`",
                {"field": "timestamp"},
            )
        if not (EARLIEST_TIMESTAMP <= ts <= now + FUTURE_TOLERANCE_SECONDS):
            raise IngestError(
                422,
                "Bad timestamp",
                f"timestamp {ts} is in the future or before 2000",
                {"field": "timestamp"},
            )
        return ts

    def _limit(self, reporter: str, address: str, now: float) -> None:
        waits = []
        if self._reporter_limit is not None:
            waits.append(self._reporter_limit.take(reporter, now))
        if self._network_limit is not None:
            network = network_of(address)
            if network is not None:
                waits.append(self._network_limit.take(network, now))
        wait = max(waits, default=0.0)
        if wait > 0:
            raise IngestError(
                429,
                "Too many reports",
                "slow down: too many reports from this client",
                headers={"Retry-After": retry_after_header(wait)},
            )


def close_matches(catalog: Catalog, given: str, n: int = 3) -> list[str]:
    """Slugs of the services whose slug, name or an alias looks like ``given``, best first.

    The catalog is operators' data and may hold hundreds of services, so a refusal points to
    the list (``see``) and names the likely ones rather than quoting them all.
    """
    words: dict[str, str] = {}
    for svc in catalog.services.values():
        for word in (svc.slug, svc.name, *svc.aliases):
            words.setdefault(word.casefold(), svc.slug)
    found = difflib.get_close_matches(given.casefold(), words, n=n * 3, cutoff=0.6)
    return list(dict.fromkeys(words[w] for w in found))[:n]


def _id(service: Service) -> int:
    if service.id is None:  # pragma: no cover - a catalog not loaded from the store
        raise RuntimeError(f"service {service.slug} has no database id")
    return service.id
