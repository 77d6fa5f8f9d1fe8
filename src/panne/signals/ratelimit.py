"""Token buckets per key (a reporter's fingerprint, a client network), in memory.

A bucket holds at most ``burst`` tokens and refills at ``rate_per_minute``; each request takes
one. Buckets that have refilled completely are forgotten, so memory follows the number of
recently active clients, not of all clients ever seen.
"""

from __future__ import annotations

import math


class TokenBuckets:
    def __init__(self, rate_per_minute: float, burst: int) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated_at)
        self._next_prune = 0.0

    def take(self, key: str, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens: 0 when allowed, else the seconds to wait before retrying."""
        if now >= self._next_prune:
            self._prune(now)
        tokens, updated = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - updated) * self.rate)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (cost - tokens) / self.rate

    def _prune(self, now: float) -> None:
        refill_seconds = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill_seconds}
        self._next_prune = now + min(refill_seconds, 60.0)

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds; round up so a client that obeys it succeeds."""
    return str(max(1, math.ceil(seconds)))
