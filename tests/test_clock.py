from __future__ import annotations

import time

import pytest

from panne.clock import ManualClock, ScaledClock, SystemClock, minute_of, utc


def test_manual_clock_moves_only_when_told() -> None:
    c = ManualClock(100.0)
    assert c.now() == 100.0
    c.advance(30)
    assert c.now() == 130.0
    c.set(7)
    assert c.now() == 7.0


def test_scaled_clock_runs_faster_than_real_time() -> None:
    c = ScaledClock(1_000.0, speed=3600)
    first = c.now()
    time.sleep(0.01)
    assert c.now() - first >= 30  # 10 ms of real time is at least 36 s of simulated time
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0, speed=0)


def test_system_clock_and_helpers() -> None:
    assert abs(SystemClock().now() - time.time()) < 5
    assert minute_of(1_709_652_345.6) == 1_709_652_300
    assert utc(0).isoformat() == "1970-01-01T00:00:00+00:00"
