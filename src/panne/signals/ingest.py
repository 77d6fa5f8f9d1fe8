"""From a request's reports to committed rows: the whole ingest decision in one place.

The web layer parses and hands over; this module checks each report against the catalog, finds
its country, fingerprints its reporter, applies the rate limits and the dedupe, and waits for
the writer's commit. Every refusal is an :class:`IngestError` carrying the HTTP status and the
words of the problem, so the web layer only renders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from panne.catalog import Catalog, Service
from panne.clock import Clock
from panne.signals.countries import COUNTRY_CODES
from panne.signals.geo import GeoLocator, network_of
from panne.signals.ratelimit import TokenBuckets, retry_after_header
from panne.signals.reports import (
    UNKNOWN_COUNTRY,
    BatchReportIn,
    Deduper,
    Fingerprinter,
    Report,
    ReportIn,
    new_report_id,
)
from panne.store.keys import ApiKey
from panne.store.writer import ReportWriter

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
        writer: ReportWriter,
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
        await self._writer.write((report,))
        return report

    def prepare(self, item: ReportIn, client: Client, source: str) -> Report:
        now = self._clock.now()
        service = self._service(item.service)
        problem = self._problem(service, item.problem)
        country = self._country(item.country, client.address)
        reporter = None
        if client.address is not None:
            reporter = self._fingerprinter.reporter(now, client.address, client.user_agent)
            self._limit(reporter, client.address, now)
        counted = self.deduper.first_in_window(reporter, _id(service), now)
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
        self, items: Sequence[BatchReportIn], key: ApiKey, client: Client
    ) -> list[Report]:
        reports = self.prepare_batch(items, key, client)
        await self._writer.write(reports)
        return reports

    def prepare_batch(
        self, items: Sequence[BatchReportIn], key: ApiKey, client: Client
    ) -> list[Report]:
        """All or nothing: the first bad report refuses the whole batch, naming its index.

        Batches repeat the same few (service, problem, country) triples thousands of times,
        so each triple is checked once per batch.
        """
        now = self._clock.now()
        now_ms = int(now * 1000)
        seen: dict[tuple[str, str, str | None], tuple[int, str, str]] = {}
        checked: list[tuple[int, str, str, float, str | None]] = []
        for i, item in enumerate(items):
            triple = (item.service, item.problem, item.country)
            try:
                valid = seen.get(triple)
                if valid is None:
                    service = self._service(item.service)
                    valid = (
                        _id(service),
                        self._problem(service, item.problem),
                        self._country(item.country, None),
                    )
                    seen[triple] = valid
                occurred = (
                    now if item.timestamp is None else self._timestamp(item.timestamp, key, now)
                )
            except IngestError as exc:
                exc.detail = f"report {i}: {exc.detail}"
                exc.extra["index"] = i
                raise
            reporter = None
            if item.reporter is not None:
                reporter = self._fingerprinter.reporter(now, f"key:{key.id}", item.reporter)
            checked.append((*valid, occurred, reporter))
        first = self.deduper.first_in_window
        out = []
        for service_id, problem, country, occurred, reporter in checked:
            occurred_ms = int(occurred * 1000)
            out.append(
                Report(
                    new_report_id(occurred_ms),
                    service_id,
                    problem,
                    country,
                    occurred_ms,
                    now_ms,
                    reporter,
                    first(reporter, service_id, occurred),
                    "batch",
                    key.id,
                )
            )
        return out

    # -- the checks --------------------------------------------------------------------------

    def _service(self, slug: str) -> Service:
        service = self.catalog.services.get(slug)
        if service is None:
            raise IngestError(
                422,
                "Unknown service",
                f"service {slug!r} is not in the catalog",
                {"field": "service", "see": "/api/v1/services"},
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


def _id(service: Service) -> int:
    if service.id is None:  # pragma: no cover - a catalog not loaded from the store
        raise RuntimeError(f"service {service.slug} has no database id")
    return service.id
