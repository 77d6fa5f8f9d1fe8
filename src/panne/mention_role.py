"""The mentions role: social posts read, matched, counted per minute, stored and watched.

A stream of posts waits on other people's servers (or on a file that grows), so, like the probe
and vendor roles, the role has its own thread and event loop (``panne-mentions``), started only
when ``social_source`` is set. Posts go through :class:`~panne.signals.social.MentionMatcher`
over the node's catalog and a :class:`~panne.signals.social.MentionCounter`; every
:data:`FLUSH_SECONDS` the counts are *added* to ``mention_counts`` (small, frequent writes lose
little on a crash), then each finished minute is judged by a :class:`~panne.detect.SeasonalBank`
(one row per service: the very detector the reports use, with a baseline of its own, because
mentions are far noisier and language-dependent) and the judgements go to
``mention_expectations``. A minute is judged :data:`JUDGE_LAG_SECONDS` after it ends, so posts
that arrive a little late still count in it.

The bank's state is saved in ``detector_state`` under :data:`STATE_KEY`, with the judgements, so
a restart resumes rather than relearns. Without a saved state the bank first learns, silently,
from the stored counts of the last ``detect_warmup_days``. :meth:`MentionRole.run_once` feeds
given posts and judges finished minutes synchronously: ``node.mentions_once()`` and tests use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import Engine

from panne.catalog import Catalog
from panne.clock import Clock, minute_of
from panne.config import Settings
from panne.detect import SeasonalBank
from panne.signals.social import (
    JsonLinesSource,
    MastodonStreamSource,
    MentionCounter,
    MentionMatcher,
    Post,
)
from panne.store import mentions as store
from panne.store.mentions import MentionJudgement

log = logging.getLogger(__name__)
STATE_KEY = "mentions"
FLUSH_SECONDS = 5.0
JUDGE_LAG_SECONDS = 15
RESUME_GAP_SECONDS = 900  # a longer stop: its minutes are unknown, not quiet, and are skipped
FOLLOW_POLL_SECONDS = 0.5
MAX_RECONNECT_SECONDS = 60.0


async def follow_lines(
    path: Path,
    stop: threading.Event,
    poll: float = FOLLOW_POLL_SECONDS,
    opened: threading.Event | None = None,
) -> AsyncIterator[bytes]:
    """Lines appended to ``path`` from now on, like ``tail -f`` (a restart must not count the
    file's old lines again): a file that is replaced or truncated (log rotation) is read again
    from its start; one that does not exist yet is waited for, and read whole. ``opened`` is set
    once the file is open. Ends when ``stop`` is set."""
    handle = None
    partial = b""
    first = True
    try:
        while not stop.is_set():
            if handle is None:
                try:
                    handle = path.open("rb")
                except OSError:
                    first = False
                    await asyncio.sleep(poll)
                    continue
                if first:
                    handle.seek(0, os.SEEK_END)
                first, partial = False, b""
                if opened is not None:
                    opened.set()
            line = handle.readline()
            if line.endswith(b"\n"):
                yield partial + line
                partial = b""
                continue
            partial += line
            try:
                st = path.stat()
                moved = st.st_ino != os.fstat(handle.fileno()).st_ino
                moved = moved or st.st_size < handle.tell()
            except OSError:
                moved = True
            if moved:
                handle.close()
                handle = None
            else:
                await asyncio.sleep(poll)
    finally:
        if handle is not None:
            handle.close()


def source_from_settings(
    settings: Settings, clock: Clock, stop: threading.Event, opened: threading.Event | None = None
) -> AsyncIterable[Post]:
    """The post source ``social_source`` names (validated by :mod:`panne.config`)."""
    kind, _, where = settings.social_source.partition(":")
    if kind == "jsonl":
        return JsonLinesSource(follow_lines(Path(where), stop, opened=opened), clock)
    return MastodonStreamSource(where, access_token=settings.social_token or None)


class MentionRole:
    def __init__(
        self, engine: Engine, settings: Settings, clock: Clock, catalog: Callable[[], Catalog]
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.catalog = catalog
        self.counter = MentionCounter()
        self.flush_seconds = FLUSH_SECONDS
        self.bank = SeasonalBank(0)
        self.slugs: list[str] = []
        self.judged_until: int | None = None  # the next minute to judge
        self.resumed = False  # the bank came from a saved state
        self._rows: dict[str, int] = {}
        self._matcher: MentionMatcher | None = None
        self._matched: Catalog | None = None
        self._counting = threading.Lock()
        self._judging = threading.Lock()
        self._wake = threading.Event()
        self.reading = threading.Event()  # a file source is open: lines appended now count

    def wake(self) -> None:
        """Interrupt the wait between flushes (the node sets its stop event first)."""
        self._wake.set()

    # -- counting -------------------------------------------------------------------------

    def _match(self) -> MentionMatcher:
        catalog = self.catalog()
        if self._matcher is None or catalog is not self._matched:
            self._matcher, self._matched = MentionMatcher(catalog), catalog
        return self._matcher

    def feed(self, posts: Iterable[Post]) -> int:
        """Match and count posts; how many were new (a repeated id is counted once)."""
        matcher = self._match()
        fresh = 0
        with self._counting:
            for post in posts:
                fresh += self.counter.add(post, matcher.match(post.text, post.lang))
        return fresh

    def flush(self) -> int:
        """Add what was counted to the store; on failure the counts are kept for next time."""
        with self._counting:
            done = self.counter.pop_before(2**62)
        try:
            store.add_counts(self.engine, done)
        except Exception:
            with self._counting:
                for key, n in done.items():
                    self.counter.counts[key] = self.counter.counts.get(key, 0) + n
            raise
        return len(done)

    # -- judging --------------------------------------------------------------------------

    def _sync_rows(self) -> None:
        fresh = [s for s in self.catalog().services if s not in self._rows]
        if fresh:
            self.bank.grow(len(fresh))
            for slug in fresh:
                self._rows[slug] = len(self.slugs)
                self.slugs.append(slug)

    def _vector(self, counts: dict[tuple[str, int], int], minute: int) -> np.ndarray:
        return np.array([float(counts.get((s, minute), 0)) for s in self.slugs])

    def _ready(self) -> None:
        """Load the saved bank, or warm a new one up on the stored history (a first start)."""
        if self.judged_until is not None:
            return
        self._sync_rows()
        now_minute = minute_of(self.clock.now())
        saved = store.load_state(self.engine, STATE_KEY)
        if saved is not None:
            for slug, state in saved["services"].items():
                if slug in self._rows:
                    self.bank.load(self._rows[slug], state)
            until = int(saved["judged_until"])
            gap = now_minute - until > RESUME_GAP_SECONDS
            self.judged_until = now_minute if gap else until
            self.resumed = True
            return
        since = now_minute - int(self.settings.detect_warmup_days * 86_400) // 60 * 60
        first = store.first_minute(self.engine, since)
        if first is not None and first < now_minute:
            history = store.counts_between(self.engine, first, now_minute)
            for m in range(first, now_minute, 60):
                self.bank.step(m, self._vector(history, m))
            log.info("mentions: detector warmed up on %d minutes", (now_minute - first) // 60)
        self.judged_until = now_minute

    def _state(self) -> dict[str, Any]:
        return {
            "judged_until": self.judged_until,
            "services": {slug: self.bank.state_of(i) for i, slug in enumerate(self.slugs)},
        }

    def judge(self) -> list[MentionJudgement]:
        """Judge every finished minute not judged yet; store the judgements of minutes that had
        mentions or alerted (mentions are sparse: a row per quiet service-minute would
        outweigh the signal) and the bank's state, together."""
        with self._judging:
            self._ready()
            self._sync_rows()
            assert self.judged_until is not None
            start, end = self.judged_until, minute_of(self.clock.now() - JUDGE_LAG_SECONDS)
            if end <= start:
                return []
            counts = store.counts_between(self.engine, start, end)
            out: list[MentionJudgement] = []
            for m in range(start, end, 60):
                x = self._vector(counts, m)
                j = self.bank.step(m, x)
                for r in np.flatnonzero((x > 0) | j.alert):
                    out.append(
                        MentionJudgement(
                            self.slugs[r],
                            m,
                            int(x[r]),
                            float(j.expected[r]),
                            float(j.score[r]),
                            bool(j.alert[r]),
                        )
                    )
            self.judged_until = end
            with self.engine.begin() as conn:
                store.record(conn, out)
                store.save_state(conn, STATE_KEY, self._state(), self.clock.now())
            return out

    def run_once(self, posts: Iterable[Post] = ()) -> list[MentionJudgement]:
        """Feed ``posts``, store their counts, judge the finished minutes; for tests and tools."""
        with self._judging:
            self._ready()  # before the posts' counts are stored, so a warm-up never sees them
        self.feed(posts)
        self.flush()
        return self.judge()

    # -- the background role --------------------------------------------------------------

    def serve(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set (in a thread of its own); call :meth:`wake` after setting
        it so the role does not finish its wait first."""
        asyncio.run(self._serve(stop))

    async def _serve(self, stop: threading.Event) -> None:
        try:  # the warm-up or resumption, before any post is counted
            await asyncio.to_thread(self.run_once)
        except Exception:
            log.exception("mentions: loading the detector failed")
        reader = asyncio.create_task(self._read(stop))
        try:
            while not stop.is_set():
                await asyncio.to_thread(self._wake.wait, self.flush_seconds)
                self._wake.clear()
                try:
                    await asyncio.to_thread(self.run_once)
                except Exception:  # keep counting: the store may come back
                    log.exception("mentions: storing or judging failed")
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.flush)

    async def _read(self, stop: threading.Event) -> None:
        """Read the source for ever, reconnecting with back-off when it ends or fails."""
        delay = 1.0
        while not stop.is_set():
            source = source_from_settings(self.settings, self.clock, stop, self.reading)
            try:
                async for post in source:
                    self.feed((post,))
                    delay = 1.0
            except (httpx.HTTPError, OSError) as exc:
                # The network's doing (a refused connection, a 502, a dropped stream): one line
                # each time, not a traceback a minute while a server is away.
                log.warning(
                    "mentions: the source %r failed: %s; reconnecting in %.0f s",
                    source,
                    exc or type(exc).__name__,
                    delay,
                )
            except Exception:
                log.warning("mentions: the source %r failed", source, exc_info=True)
            if stop.is_set():
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RECONNECT_SECONDS)
