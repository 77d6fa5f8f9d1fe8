"""Simulated traffic as store rows, checked against the catalog before anything is written.

Reports that come over the API are checked by ingest; simulated ones written straight into a
database (``panne simulate`` without ``--server``, the demo) skip ingest, so they are checked
here instead: a service, problem or country the catalog does not know would be counted where no
page, API or detector can ever show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from panne.catalog import Catalog
from panne.signals.countries import COUNTRY_CODES
from panne.signals.reports import Report, new_report_id
from panne.simulate.model import SimReport
from panne.simulate.outages import Outage

CountRow = tuple[int, int, str, str, int]
"""A per-minute count as the store adds it: (service id, minute, country, problem, count)."""


class RowError(ValueError):
    """A simulated row the catalog does not allow; the message names it."""


class CatalogRows:
    """The catalog's services (with their database ids and problems) and the country codes."""

    def __init__(self, catalog: Catalog) -> None:
        self.ids: dict[str, int] = {}
        self.problems: dict[str, frozenset[str]] = {}
        for svc in catalog.services.values():
            if svc.id is None:
                raise RowError(f"service {svc.slug} has no database id: load the catalog first")
            self.ids[svc.slug] = svc.id
            self.problems[svc.slug] = frozenset(svc.problems)

    def check(self, service: str, problem: str, country: str) -> int:
        """The service's id, if the catalog knows the service, its problem and the country."""
        if country not in COUNTRY_CODES:
            raise RowError(f"simulated country {country!r} is not an ISO 3166-1 alpha-2 code")
        return self._service(service, problem)

    def check_outages(self, outages: Sequence[Outage]) -> None:
        """Every outage's service and problems, before the first row is generated."""
        for o in outages:
            for problem in o.problems:
                self._service(o.service, problem)

    def _service(self, service: str, problem: str) -> int:
        problems = self.problems.get(service)
        if problems is None:
            raise RowError(f"simulated service {service!r} is not in the catalog")
        if problem not in problems:
            raise RowError(f"simulated problem {problem!r} is not one of {service}'s problems")
        return self.ids[service]

    def reports(self, reports: Iterable[SimReport], source: str) -> list[Report]:
        """Store rows for ``reports``, all checked first: one bad report refuses them all."""
        check = self.check
        rows = []
        for r in reports:
            sid = check(r.service, r.problem, r.country)
            ms = int(r.at * 1000)
            rows.append(
                Report(new_report_id(ms), sid, r.problem, r.country, ms, ms, None, True, source)
            )
        return rows

    def counts(self, minute: int, counts: Iterable[tuple[str, str, str, int]]) -> list[CountRow]:
        """Count rows for one minute of ``TrafficModel.minute_counts``, all checked first."""
        return [(self.check(s, p, c), minute, c, p, n) for s, c, p, n in counts]
