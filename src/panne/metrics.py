"""Prometheus metrics of one node, served as text at ``GET /metrics``.

Each :class:`Metrics` has its own ``CollectorRegistry``, never the process-wide one: one process
may hold many nodes (the tests build dozens), and each must count only its own reports.

Two kinds of figures live here. Counts of events (reports accepted, refused, detector ticks) are
incremented where they happen, through children bound once at start-up, so the ingest path pays
one ``observe`` and an ``inc`` or two, about 1.5 µs a report. Figures about the state of the
store (open incidents, how far behind the detector is) are read at scrape time by
:class:`StoreCollector`, so they are right whichever process wrote the store, and cost nothing
between scrapes.

Adding a metric later (probes, notifications) is one line in :meth:`Metrics.__init__`, e.g.
``self.probes = Counter("panne_probes", "Probes run, by outcome", ["outcome"], registry=r)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from time import perf_counter

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from panne import vendor_role
from panne.clock import Clock
from panne.store.probe_defs import probes_down
from panne.store.schema import deliveries, expectations, incidents

log = logging.getLogger(__name__)

# Where accepted reports come from: the values of ``Report.source`` that pass the API, and the
# service pages' report form without JavaScript.
SOURCES = ("api", "batch", "web")
INCIDENT_KINDS = ("service", "group")

# Why a report (or a whole batch: it counts once) was refused. Refusals are IngestError,
# ProblemError or the hot path's own, each with an HTTP status and a title: the title names the
# reason when it is one of these, the status otherwise.
REASON_BY_TITLE = {
    "Malformed JSON": "malformed_json",
    "Invalid report": "invalid",
    "Invalid batch": "invalid",
    "Empty batch": "invalid",
    "Unknown service": "unknown_service",
    "Unknown problem": "unknown_problem",
    "Unknown country": "bad_country",
    "Bad timestamp": "bad_timestamp",
    "Batch too large": "too_large",
    "Body too large": "too_large",
    "Too many reports": "rate_limited",
    "API key required": "unauthorized",
    "Bad API key": "forbidden",
    "Timestamps need a trusted key": "forbidden",
}
REASON_BY_STATUS = {
    400: "bad_request",  # e.g. the client went away before sending its body
    401: "unauthorized",
    403: "forbidden",
    413: "too_large",
    415: "not_json",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",  # the report stream is away
}
REASONS = tuple(sorted({*REASON_BY_TITLE.values(), *REASON_BY_STATUS.values(), "error", "other"}))

# A single report commits in about a millisecond; a batch of 10,000 takes up to seconds.
INGEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
TICK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# A probe answers in tens of milliseconds to seconds; its timeout is at most 120 s.
PROBE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120)


def reason_for(status: int, title: str | None) -> str:
    """The ``reason`` label of a refusal, from its HTTP status and problem title."""
    if title is not None and title in REASON_BY_TITLE:
        return REASON_BY_TITLE[title]
    return REASON_BY_STATUS.get(status, "error" if status >= 500 else "other")


class Metrics:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.registry = r = CollectorRegistry()
        self.reports_accepted = Counter(
            "panne_reports_accepted",
            "Reports committed, by where they came from (api: one by one, batch: API keys)",
            ["source"],
            registry=r,
        )
        self.reports_counted = Counter(
            "panne_reports_counted",
            "Accepted reports that counted (the rest were the same reporter within the dedupe "
            "window)",
            registry=r,
        )
        self.reports_rejected = Counter(
            "panne_reports_rejected",
            "Report requests refused, by reason (a refused batch counts once)",
            ["reason"],
            registry=r,
        )
        self.ingest_seconds = Histogram(
            "panne_ingest_seconds",
            "Time from a report request to its committed answer, by source",
            ["source"],
            buckets=INGEST_BUCKETS,
            registry=r,
        )
        self.detector_ticks = Counter(
            "panne_detector_ticks", "Detector ticks run, failed ones included", registry=r
        )
        self.detector_tick_seconds = Histogram(
            "panne_detector_tick_seconds",
            "Time a detector tick took",
            buckets=TICK_BUCKETS,
            registry=r,
        )
        self.probe_runs = Counter(
            "panne_probe_runs", "Probe runs, by kind and outcome (ok or the error class)",
            ["kind", "outcome"], registry=r,
        )  # fmt: skip
        self.probe_latency = Histogram(
            "panne_probe_latency_seconds", "Time a probe run took, by kind", ["kind"],
            buckets=PROBE_BUCKETS, registry=r,
        )  # fmt: skip
        Gauge("panne_probes_down", "Enabled probes down now", registry=r).set_function(
            lambda: probes_down(engine)
        )
        self.detector_active = Gauge(
            "panne_detector_active",
            "1 where detection runs (panne serve, the active panne detector), 0 in a standby",
            registry=r,
        )
        self.worker_reports = Counter(
            "panne_worker_reports",
            "Reports a worker took from the stream: stored, or already stored (a redelivery)",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.worker_uncounted = Counter(
            "panne_worker_reports_uncounted",
            "Reports an ingest process counted that the worker did not: the same reporter had "
            "counted within the dedupe window through another process",
            registry=r,
        )
        self.worker_pending = Gauge(
            "panne_worker_stream_pending",
            "Messages waiting in the report stream, as of this worker's last fetch",
            registry=r,
        )
        self.worker_dropped = Counter(
            "panne_worker_messages_dropped", "Messages on the stream that were not panne's",
            registry=r,
        )  # fmt: skip
        self.worker_failures = Counter(
            "panne_worker_commit_failures", "Commits that failed (the messages stay in the stream)",
            registry=r,
        )  # fmt: skip
        self.vendor_polls = Counter(
            "panne_vendor_polls", "Vendor status page polls, by outcome (ok or error)",
            ["outcome"], registry=r,
        )  # fmt: skip
        Gauge(
            "panne_vendor_pages_stale", "Vendor sources whose latest poll failed", registry=r
        ).set_function(lambda: vendor_role.pages_stale(engine))
        r.register(StoreCollector(engine, clock))
        # Every label value exists from the start (a zero is news too, and rate() needs it),
        # and the hot path finds its children in one dict look-up.
        self._by_source = {
            s: (self.reports_accepted.labels(s), self.ingest_seconds.labels(s)) for s in SOURCES
        }
        self._by_reason = {reason: self.reports_rejected.labels(reason) for reason in REASONS}
        self._vendor_polls = {o: self.vendor_polls.labels(o) for o in ("ok", "error")}

    def accepted(self, source: str, reports: int, counted: int, seconds: float) -> None:
        """Reports committed by one request that took ``seconds``."""
        accepted, timer = self._by_source[source]
        accepted.inc(reports)
        if counted:
            self.reports_counted.inc(counted)
        timer.observe(seconds)

    def rejected(self, status: int, title: str | None) -> None:
        self._by_reason[reason_for(status, title)].inc()

    def probe_ran(self, kind: str, outcome: str, seconds: float) -> None:
        """One probe run (its retries included): ``outcome`` is ok or the error class."""
        self.probe_runs.labels(kind, outcome).inc()
        self.probe_latency.labels(kind).observe(seconds)

    def vendor_polled(self, outcome: str) -> None:
        """One poll of a vendor's page: ``outcome`` ok, or error when its state went stale."""
        self._vendor_polls[outcome].inc()

    @contextmanager
    def detector_tick(self) -> Iterator[None]:
        """Count and time one detector tick, whether it succeeds or raises."""
        started = perf_counter()
        try:
            yield
        finally:
            self.detector_ticks.inc()
            self.detector_tick_seconds.observe(perf_counter() - started)

    def render(self) -> bytes:
        """The text exposition format of everything, as Prometheus scrapes it."""
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """Figures read from the store at scrape time, in three queries.

    ``panne_detector_lag_seconds`` is now minus the start of the last minute the detector judged
    (``max(expectations.minute)``): a minute is judged at the first tick after it has ended, so
    a healthy detector shows 60 s just after that tick, rising to 120 s +
    ``detect_interval_seconds`` just before the tick that judges the next one. It is absent
    until a first judgement.
    """

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        # Names only: registering must not query a database that may not be migrated yet.
        return [_open_family(), _lag_family(), _deliveries_family()]

    def collect(self) -> Iterable[Metric]:
        try:
            with self.engine.connect() as conn:
                open_by_kind: dict[str, int] = dict(
                    conn.execute(
                        select(incidents.c.kind, func.count())
                        .where(incidents.c.status == "open")
                        .group_by(incidents.c.kind)
                    ).all()
                )
                last_minute = conn.execute(select(func.max(expectations.c.minute))).scalar()
                sent: dict[str, int] = dict(
                    conn.execute(
                        select(deliveries.c.outcome, func.count()).group_by(deliveries.c.outcome)
                    ).all()
                )
        except SQLAlchemyError:  # the counters are worth a scrape even when the store is not
            log.warning("metrics: the store could not be read", exc_info=True)
            return []
        family = _open_family()
        for kind in sorted({*INCIDENT_KINDS, *open_by_kind}):
            family.add_metric([kind], open_by_kind.get(kind, 0))
        delivered = _deliveries_family()
        for outcome, n in sorted(sent.items()):
            delivered.add_metric([outcome], n)
        out: list[Metric] = [family, delivered]
        if last_minute is not None:
            lag = _lag_family()
            lag.add_metric([], self.clock.now() - last_minute)
            out.append(lag)
        return out


def _open_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "panne_incidents_open", "Incidents open now, by kind (service or group)", labels=["kind"]
    )


def _deliveries_family() -> CounterMetricFamily:
    # Counted from the delivery log, which every notifier process writes: one figure for the
    # whole deployment, right after any restart.
    return CounterMetricFamily(
        "panne_notification_deliveries",
        "Notification attempts, by outcome (delivered, failed, gave_up, refused, suppressed)",
        labels=["outcome"],
    )


def _lag_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "panne_detector_lag_seconds",
        "Now minus the start of the last minute the detector judged",
    )
