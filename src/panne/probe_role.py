"""The probe role: the stored probe definitions, run on schedule, results and transitions stored.

Probes wait on other people's servers, so, like the notifier, the role has its own thread and
event loop (``panne-probes``) and never delays a detector tick or a report. In it one
:class:`~panne.signals.probe_kinds.Prober` (one shared, guarded HTTP client), one
:class:`~panne.signals.probe_scheduler.ProbeScheduler` and one
:class:`~panne.store.probes.ProbeRecorder` run the enabled definitions. Definitions live in the
database, so the role re-reads them every ``probe_reload_seconds`` (another process may have
changed them) and at once when this process's admin API calls :meth:`ProbeRole.changed`; the
scheduler keeps the rhythm of the probes that did not change. Once a day, results older than
``probe_results_keep_days`` are deleted.

:meth:`ProbeRole.run_once` runs every enabled probe once, synchronously, through the same
recorder path: ``node.probe_once()``, the tests and ``panne probe run`` use it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from panne.clock import Clock
from panne.config import Settings
from panne.metrics import Metrics
from panne.signals.probe_kinds import Prober
from panne.signals.probe_scheduler import ProbeScheduler, Sink
from panne.signals.probe_state import ProbeState, ProbeStatus
from panne.signals.probes import ProbeResult, ProbeSpec
from panne.store import probe_defs
from panne.store import probes as probe_store
from panne.store.probes import ProbeRecorder

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """One probe run by :meth:`ProbeRole.run_once`: the spec, its result, the state after."""

    spec: ProbeSpec
    result: ProbeResult
    state: ProbeStatus


class ProbeRole:
    def __init__(self, engine: Engine, settings: Settings, clock: Clock, metrics: Metrics):
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self._wake = threading.Event()
        self._kinds: dict[str, str] = {}  # probe id -> kind, for the metrics' label
        self._last_prune: float | None = None

    def prober(self) -> Prober:
        return Prober(
            clock=self.clock,
            allow_private=self.settings.probe_allow_private,
            cert_warn_days=self.settings.probe_cert_warning_days,
        )

    def changed(self) -> None:
        """Definitions changed in this process: reload them now rather than at the next poll."""
        self._wake.set()

    def wake(self) -> None:
        """Interrupt the wait between reloads (the node sets its stop event first)."""
        self._wake.set()

    # -- results --------------------------------------------------------------------------

    def _observe(self, results: Sequence[ProbeResult]) -> None:
        for r in results:
            kind = self._kinds.get(r.probe_id, "other")
            self.metrics.probe_ran(kind, r.error_class or "ok", r.latency_ms / 1000)

    def _sink(self, recorder: ProbeRecorder) -> Sink:
        def sink(results: Sequence[ProbeResult]) -> None:
            recorder(results)  # raises, and the scheduler keeps the batch, if the store fails
            self._observe(results)

        return sink

    # -- the background role --------------------------------------------------------------

    def serve(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set (in a thread of its own); call :meth:`wake` after setting
        it so the role does not finish its wait first."""
        asyncio.run(self._serve(stop))

    async def _serve(self, stop: threading.Event) -> None:
        recorder = await asyncio.to_thread(ProbeRecorder, self.engine)
        async with self.prober() as prober:
            scheduler = ProbeScheduler(
                prober, self._sink(recorder), concurrency=self.settings.probe_concurrency
            )
            await scheduler.start()
            try:
                while not stop.is_set():
                    self._wake.clear()
                    try:
                        specs = await asyncio.to_thread(self._reload, recorder)
                        scheduler.set_specs(specs)
                    except Exception:  # keep probing what was loaded: the store may come back
                        log.exception("probes: reloading the definitions failed")
                    await asyncio.to_thread(self._wake.wait, self.settings.probe_reload_seconds)
            finally:
                await scheduler.stop()

    def _reload(self, recorder: ProbeRecorder) -> list[ProbeSpec]:
        """The enabled definitions, read in a worker thread; prunes when due."""
        specs = probe_store.load_specs(self.engine)
        known = probe_defs.probe_ids(self.engine)
        self._kinds.update({s.id: s.kind for s in specs})  # a paused one may still flush
        recorder.set_specs(specs)
        for gone in set(recorder.states) - known:  # deleted: one re-created starts afresh
            recorder.states.pop(gone, None)
        self.prune_if_due()
        return specs

    def prune_if_due(self) -> int:
        """Delete old results at most once a day; how many were deleted."""
        now = self.clock.now()
        if self._last_prune is not None and now - self._last_prune < PRUNE_EVERY_SECONDS:
            return 0
        self._last_prune = now
        before = now - self.settings.probe_results_keep_days * 86_400
        deleted = probe_defs.prune_results(self.engine, before=before)
        if deleted:
            days = self.settings.probe_results_keep_days
            log.info("probes: deleted %d results older than %d days", deleted, days)
        return deleted

    # -- once -----------------------------------------------------------------------------

    def run_once(self) -> list[ProbeRun]:
        """Every enabled probe once (with its retries), recorded; for tests and the CLI."""
        specs = probe_store.load_specs(self.engine)
        self._kinds.update({s.id: s.kind for s in specs})
        results = asyncio.run(self._run_all(specs))
        recorder = ProbeRecorder(self.engine, specs)  # the stored states, fresh
        self._sink(recorder)(results)
        unknown = ProbeState("")
        return [
            ProbeRun(spec, result, recorder.states.get(spec.id, unknown).status)
            for spec, result in zip(specs, results, strict=True)
        ]

    async def _run_all(self, specs: Sequence[ProbeSpec]) -> list[ProbeResult]:
        gate = asyncio.Semaphore(self.settings.probe_concurrency)
        async with self.prober() as prober:

            async def one(spec: ProbeSpec) -> ProbeResult:
                for _ in range(spec.retries + 1):
                    async with gate:
                        result = await prober.run(spec)
                    if result.ok:
                        break
                return result

            return list(await asyncio.gather(*(one(s) for s in specs)))
