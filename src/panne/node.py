"""One panne node: the stages assembled over one database, started and stopped together.

`panne serve` runs one node with every role; `panne web`, `panne ingest` and `panne detector`
run nodes with some of them (:class:`Roles`). The web app, the CLI and the tests all build a
:class:`Node` instead of wiring stages themselves, so there is one place where they meet.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from panne import catalog as catalog_mod
from panne import detect
from panne.bus import ReportLog
from panne.bus.jetstream import Publisher, Stream
from panne.catalog import Catalog
from panne.clock import Clock, SystemClock
from panne.config import Settings
from panne.mention_role import MentionRole
from panne.metrics import Metrics
from panne.notify import Dispatcher, RunSummary
from panne.probe_role import ProbeRole, ProbeRun
from panne.signals.geo import GeoLocator
from panne.signals.ingest import Ingestor
from panne.signals.ratelimit import TokenBuckets
from panne.signals.reports import Fingerprinter, new_report_id
from panne.signals.social import Post
from panne.signals.vendor_status import VendorState
from panne.store import catalog as catalog_store
from panne.store import keys, migrate
from panne.store.engine import make_engine
from panne.store.mentions import MentionJudgement
from panne.store.schema import reports
from panne.store.writer import ReportWriter
from panne.vendor_role import VendorRole
from panne.watch import TickResult, Watcher
from panne.worker_role import Worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Roles:
    """What a node does besides serving reads (every node reads the store and the catalog).

    ``ingest``: takes reports (the API and the pages' button) into the report log, with the
    dedupe, the rate limits and the country lookup. ``detect``: detection each tick, incidents,
    notifications, probes, vendors' pages, mentions and the demo traffic; one process of a
    deployment has it at a time (``panne detector``, elected). ``work``: stores and counts the
    report stream; only with ``nats_url``, where the reports taken go to JetStream.
    """

    ingest: bool = True
    detect: bool = True
    work: bool = True


@dataclass
class Node:
    """``background`` runs the detector (and, with ``settings.demo``, the demo traffic) in
    threads; tests leave it off and drive :attr:`watcher` tick by tick."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    geo: GeoLocator = field(default_factory=GeoLocator)
    background: bool = True
    roles: Roles = field(default_factory=Roles)

    def __post_init__(self) -> None:
        self.engine: Engine = make_engine(
            self.settings.database_url, synchronous=self.settings.sqlite_synchronous
        )
        # The report log: this process commits what it takes, or JetStream stores it for the
        # workers (panne.bus). Other processes may take reports into a PostgreSQL database
        # too (`panne web`): there the commit settles which count against theirs.
        window_ms = self.settings.dedupe_window_minutes * 60_000
        self.writer: ReportLog = (
            Publisher(Stream.of(self.settings))
            if self.settings.nats_url
            else ReportWriter(
                self.engine,
                max_batch=self.settings.commit_batch_max,
                shared_dedupe_ms=window_ms if self.engine.dialect.name == "postgresql" else None,
            )
        )
        self.catalog = Catalog()
        s = self.settings
        self.ingestor = Ingestor(
            self.catalog,
            clock=self.clock,
            geo=self.geo,
            fingerprinter=Fingerprinter(lambda day: keys.salt_for_day(self.engine, day)),
            writer=self.writer,
            dedupe_window_seconds=s.dedupe_window_minutes * 60,
            reporter_limit=TokenBuckets(s.reporter_rate_per_minute, s.reporter_burst)
            if s.rate_limit
            else None,
            network_limit=TokenBuckets(s.network_rate_per_minute, s.network_burst)
            if s.rate_limit
            else None,
        )
        self.watcher = Watcher(self.engine, self.clock)
        self.metrics = Metrics(self.engine, self.clock)
        self.notifier = Dispatcher(self.engine, s, self.clock, lambda: self.catalog)
        self.probes = ProbeRole(self.engine, s, self.clock, self.metrics)
        self.vendors = VendorRole(self.engine, s, self.clock, self.metrics)
        self.mentions = MentionRole(self.engine, s, self.clock, lambda: self.catalog)
        self._stop = threading.Event()
        self._detect_lock = threading.Lock()
        self._catalog_version: str | None = None
        self._threads: list[threading.Thread] = []
        self.started = False

    def prepare_database(self) -> None:
        """Migrate to the latest schema and load the default catalog into an empty database
        (its probes and status pages too, should it define any)."""
        with migrate.one_at_a_time(self.engine):
            self._prepare_database()

    def _prepare_database(self) -> None:
        migrate.upgrade(self.engine)
        if catalog_store.is_empty(self.engine):
            done = catalog_store.import_catalog(
                self.engine, catalog_mod.default_catalog(), now=self.clock.now()
            )
            log.info(
                "loaded the default catalog: %d services, %d probes, %d status pages",
                done.services.added,
                done.probes.added,
                done.status_pages.added,
            )

    def reload_catalog(self) -> Catalog:
        """Read the stored catalog and hand it to every stage that uses one."""
        version = catalog_store.version(self.engine)  # first: a change meanwhile is seen next
        catalog = catalog_store.load(self.engine)
        with self._detect_lock:  # the watcher grows its arrays: not in the middle of a tick
            self.watcher.set_catalog(catalog)
        self.catalog = catalog
        self.ingestor.set_catalog(catalog)
        self._catalog_version = version
        return catalog

    def check_catalog(self) -> bool:
        """Reload the catalog if it changed in the store since it was read (a ``panne catalog
        import`` from any process); True if it did. The background role does this every
        ``catalog_reload_seconds``. An import may have changed the catalog's probes and status
        pages too: the probe and vendor roles are woken rather than left to their next poll."""
        if catalog_store.version(self.engine) == self._catalog_version:
            return False
        catalog = self.reload_catalog()
        self.probes.changed()
        self.vendors.changed()
        log.info("catalog changed in the database: reloaded, %d services", len(catalog.services))
        return True

    def start(self) -> None:
        if self.started:
            return
        roles = self.roles
        self.prepare_database()
        self.reload_catalog()
        if roles.ingest:
            self._restore_dedupe()
            self.geo.warm()
        # The demo feeds the log as well, and a worker of this process may have to store it.
        if roles.ingest or (roles.detect and self.settings.demo):
            self.writer.start()
        if roles.detect:
            if self.settings.demo:
                from panne.demo import backfill

                backfill(self)
            if not self.watcher.load():
                minutes = self.watcher.warm_up(self.settings.detect_warmup_days)
                log.info("detector warmed up on %d minutes of history", minutes)
            detect.warm()  # before the freeze: the compiled steps are start-up objects too
            self.metrics.detector_active.set(1)
        self.started = True
        # What start-up built lives as long as the process: take it out of the collector's
        # sight, so full collections stay short on the ingest path.
        gc.collect()
        gc.freeze()
        if self.background:
            self._stop.clear()
            # One small read every few seconds, so an import is served without a restart.
            self._spawn("panne-catalog", self._check_catalog_forever)
            if roles.work and self.settings.nats_url:
                worker = Worker(
                    self.engine,
                    Stream.of(self.settings),
                    dedupe_window_seconds=self.settings.dedupe_window_minutes * 60,
                    metrics=self.metrics,
                )
                self._spawn("panne-worker", lambda: asyncio.run(worker.serve(self._stop)))
            if roles.detect:
                self._start_detect_roles()

    def _start_detect_roles(self) -> None:
        self._spawn("panne-detector", self._detect_forever)
        # Its own thread and event loop: sends wait on other people's servers, and must
        # never delay a detector tick.
        self._spawn("panne-notify", lambda: self.notifier.serve(self._stop))
        # Probes too wait on other servers; the role idles until there are definitions.
        self._spawn("panne-probes", lambda: self.probes.serve(self._stop))
        # Vendors' status pages likewise; the role idles until there are sources.
        self._spawn("panne-vendors", lambda: self.vendors.serve(self._stop))
        # Social posts likewise, and only when a source is configured.
        if self.settings.social_source:
            self._spawn("panne-mentions", lambda: self.mentions.serve(self._stop))
        if self.settings.demo:
            from panne.demo import feed_forever

            self._spawn("panne-demo", lambda: feed_forever(self, self._stop))

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _detect_forever(self) -> None:
        while not self._stop.wait(self.settings.detect_interval_seconds):
            try:
                self.detect_once()
            except Exception:  # keep detecting: one bad tick must not end the role
                log.exception("detector tick failed")

    def _check_catalog_forever(self) -> None:
        while not self._stop.wait(self.settings.catalog_reload_seconds):
            try:
                self.check_catalog()
            except Exception:  # a database hiccup: keep the catalog we have, try again later
                log.exception("catalog check failed")

    def detect_once(self) -> TickResult:
        """One detector tick, counted and timed in :attr:`metrics`."""
        with self._detect_lock, self.metrics.detector_tick():
            return self.watcher.tick()

    def notify_once(self) -> RunSummary:
        """Claim new incident events and send what is due, once (the background role does
        this every ``notify_interval_seconds``)."""
        return self.notifier.run_sync()

    def probe_once(self) -> list[ProbeRun]:
        """Run every enabled probe once and record the results (the background role runs each
        at its interval)."""
        return self.probes.run_once()

    def vendor_once(self) -> list[VendorState]:
        """Poll every vendor source once now and record the states (the background role polls
        each at its interval)."""
        return self.vendors.run_once()

    def mentions_once(self, posts: Iterable[Post] = ()) -> list[MentionJudgement]:
        """Count ``posts``' mentions, store them and judge the finished minutes, synchronously
        (the background role reads ``social_source`` and does this every few seconds)."""
        return self.mentions.run_once(posts)

    def stop(self) -> None:
        if self.started:
            self._stop.set()
            self.probes.wake()
            self.vendors.wake()
            self.mentions.wake()
            for thread in self._threads:
                thread.join(timeout=30)
            self._threads.clear()
            self.writer.stop()
            self.engine.dispose()
            self.metrics.detector_active.set(0)
            self.started = False

    def _restore_dedupe(self) -> None:
        """Reload who reported what within the dedupe window, so a restart counts no one twice."""
        since_ms = int((self.clock.now() - self.ingestor.deduper.window_seconds) * 1000)
        first_id = new_report_id(since_ms, lambda bits: 0)  # ids are time-ordered: a key range
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(reports.c.reporter, reports.c.service_id, reports.c.occurred_ms).where(
                    reports.c.id >= first_id,
                    reports.c.counted,
                    reports.c.reporter.is_not(None),
                )
            ).all()
        for reporter, service_id, occurred_ms in rows:
            self.ingestor.deduper.remember(reporter, service_id, occurred_ms / 1000)
