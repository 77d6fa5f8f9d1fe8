"""Mentions to per-minute counts, the shape the detector already watches for crowd reports.

A post is counted once however many times a stream repeats it (reconnects replay recent posts,
boosts and quotes resend them): the counter remembers the last ``seen_capacity`` post ids, enough
for any replay window, without growing for ever.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from panne.clock import minute_of


class _Post(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def created_at(self) -> float: ...


class _Mention(Protocol):
    @property
    def service(self) -> str: ...


class MentionCounter:
    """``counts[(service, minute)]``: how many distinct posts claimed ``service`` down that minute.

    ``minute`` is the epoch second the minute starts at (:func:`panne.clock.minute_of`), as in
    the report counts.
    """

    def __init__(self, seen_capacity: int = 100_000) -> None:
        if seen_capacity < 1:
            raise ValueError("seen_capacity must be positive")
        self.seen_capacity = seen_capacity
        self.counts: dict[tuple[str, int], int] = {}
        self.duplicates = 0
        self._seen: dict[str, None] = {}  # insertion-ordered: the oldest id is evicted first

    def add(self, post: _Post, mentions: Iterable[_Mention]) -> bool:
        """Count ``post``'s mentions (each service once); False if the post was already seen."""
        if post.id in self._seen:
            self.duplicates += 1
            return False
        self._seen[post.id] = None
        if len(self._seen) > self.seen_capacity:
            del self._seen[next(iter(self._seen))]
        minute = minute_of(post.created_at)
        for service in {m.service for m in mentions}:
            key = (service, minute)
            self.counts[key] = self.counts.get(key, 0) + 1
        return True

    def pop_before(self, minute: int) -> dict[tuple[str, int], int]:
        """Hand over (and forget) the counts of minutes that started before ``minute``."""
        done = {k: v for k, v in self.counts.items() if k[1] < minute}
        for key in done:
            del self.counts[key]
        return done
