from __future__ import annotations

from panne.signals.ratelimit import TokenBuckets, retry_after_header


def test_burst_then_refill() -> None:
    tb = TokenBuckets(rate_per_minute=60, burst=3)
    assert [tb.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = tb.take("a", 0.0)
    assert 0.9 < wait <= 1.0
    assert tb.take("b", 0.0) == 0.0  # buckets are per key
    assert tb.take("a", 1.0) == 0.0  # one token back after a second


def test_full_buckets_are_forgotten() -> None:
    tb = TokenBuckets(rate_per_minute=60, burst=2)
    for i in range(100):
        tb.take(f"k{i}", 0.0)
    tb.take("late", 10.0)
    assert len(tb) == 1


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(2.2) == "3"
