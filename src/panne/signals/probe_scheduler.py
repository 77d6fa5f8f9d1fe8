"""The probe scheduler: every probe at its interval, many at once, none drifting.

One asyncio task per probe sleeps until the probe's next slot and runs it. Slots are fixed at
``origin + phase + k × interval``, ``phase`` a stable fraction of the interval derived from the
probe's id, so that ten thousand probes defined at once do not all fire in the first second
(and fire in the same order after a restart), and a slow run never shifts the ones after it:
a run that overruns its slot skips the slots it missed instead of queueing them. A semaphore
bounds the attempts in flight (``probe_concurrency``); retries happen inside the run, each
attempt taking its own turn at the semaphore.

Results are not stored here: they are queued and handed, in batches, to a *sink* (a plain
callable, run in a worker thread so a database commit never stalls the loop), e.g.
:class:`panne.store.probes.ProbeRecorder`. A sink that fails keeps its batch for the next flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from panne.signals.probe_kinds import Prober
from panne.signals.probes import ProbeResult, ProbeSpec

log = logging.getLogger(__name__)
Sink = Callable[[Sequence[ProbeResult]], object]
MAX_PENDING = 100_000  # results kept for a sink that keeps failing, the oldest dropped first


def phase(probe_id: str) -> float:
    """A fraction in [0, 1) fixed by the probe's id: where in its interval it first runs."""
    digest = hashlib.blake2b(probe_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class ProbeScheduler:
    """Use as ``async with ProbeScheduler(prober, sink, specs=...)``, or ``start``/``stop``.

    ``flush_interval_seconds`` and ``flush_max`` bound how long and how many results wait
    before the sink sees them. ``lateness`` keeps the last delays between a slot and the start
    of its first attempt (seconds): the scheduler's own cost, for metrics and the benchmark.
    """

    def __init__(
        self,
        prober: Prober,
        sink: Sink,
        *,
        specs: Iterable[ProbeSpec] = (),
        concurrency: int = 500,
        flush_interval_seconds: float = 1.0,
        flush_max: int = 1000,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.prober = prober
        self.sink = sink
        self.concurrency = concurrency
        self.flush_interval_seconds = flush_interval_seconds
        self.flush_max = flush_max
        self.specs: dict[str, ProbeSpec] = {s.id: s for s in specs}
        self.in_flight = 0
        self.max_in_flight = 0
        self.runs = 0
        self.lateness: deque[float] = deque(maxlen=100_000)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pending: list[ProbeResult] = []
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._origin = 0.0
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._flusher is not None

    async def __aenter__(self) -> ProbeScheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self.running:
            return
        self._origin = asyncio.get_running_loop().time()
        self._stopping = False
        self._flusher = asyncio.create_task(self._flush_forever(), name="probe-flush")
        for spec in self.specs.values():
            self._launch(spec)

    async def stop(self) -> None:
        """Cancel every probe (runs in flight are abandoned, not recorded) and hand what was
        already queued to the sink."""
        if self._flusher is None:
            return
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The flusher is asked, not cancelled: a sink call in its thread cannot be cancelled,
        # and a second one started beside it would race it.
        flusher, self._flusher = self._flusher, None
        self._stopping = True
        self._wake.set()
        await flusher

    def set_specs(self, specs: Iterable[ProbeSpec]) -> None:
        """Replace the probes: new ones start at their phase, removed ones stop, changed ones
        restart with their new definition; unchanged ones keep their rhythm."""
        new = {s.id: s for s in specs}
        for probe_id, old in list(self.specs.items()):
            if new.get(probe_id) != old and probe_id in self._tasks:
                self._tasks.pop(probe_id).cancel()
        self.specs = new
        if self.running:
            for spec in new.values():
                if spec.id not in self._tasks:
                    self._launch(spec)

    def _launch(self, spec: ProbeSpec) -> None:
        self._tasks[spec.id] = asyncio.create_task(self._loop(spec), name=f"probe-{spec.id}")

    async def _loop(self, spec: ProbeSpec) -> None:
        loop = asyncio.get_running_loop()
        interval = spec.interval_seconds
        first = self._origin + interval * phase(spec.id)
        k = max(0, math.ceil((loop.time() - first) / interval))
        while True:
            due = first + k * interval
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self._run(spec, due)
            except Exception:  # a bug in a kind must not end the probe's schedule
                log.exception("probe %s: the run failed", spec.id)
            k = max(k + 1, math.ceil((loop.time() - first) / interval))

    async def _run(self, spec: ProbeSpec, due: float) -> None:
        loop = asyncio.get_running_loop()
        attempts = spec.retries + 1
        for attempt in range(1, attempts + 1):
            async with self._semaphore:
                if attempt == 1:
                    self.lateness.append(loop.time() - due)
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    result = await self.prober.run(spec)
                finally:
                    self.in_flight -= 1
            if result.ok:
                break
        if not result.ok and attempts > 1:
            result = _with_detail(result, f"{result.detail} ({attempts} attempts)")
        self.runs += 1
        self._pending.append(result)
        if len(self._pending) >= self.flush_max:
            self._wake.set()

    async def _flush_forever(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_seconds)
            self._wake.clear()
            await self._flush()
        await self._flush()

    async def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            await asyncio.to_thread(self.sink, batch)
        except Exception:
            log.exception("probe results: the sink failed; %d results kept", len(batch))
            self._pending = (batch + self._pending)[-MAX_PENDING:]


def _with_detail(result: ProbeResult, detail: str) -> ProbeResult:
    return ProbeResult(
        result.probe_id, result.at, result.ok, result.latency_ms, result.error_class, detail
    )
