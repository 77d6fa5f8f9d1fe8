"""The ingest decision over a real node on an SQLite file, with the project's movable clock."""

from __future__ import annotations

from panne.clock import ManualClock
from panne.node import Node
from panne.signals.ingest import Client
from panne.signals.reports import ReportIn

MIDNIGHT = 1_709_683_200.0  # 2024-03-06 00:00 UTC


def test_dedupe_holds_across_utc_midnight_when_the_salt_changes(
    node: Node, clock: ManualClock
) -> None:
    client = Client("203.0.113.9", "Firefox")
    item = ReportIn(service="facebook", problem="login")

    def counted_at(at: float) -> bool:
        clock.set(at)
        return node.ingestor.prepare(item, client, "web").counted

    seen = [counted_at(MIDNIGHT + t) for t in (-300, -60, 60)]
    assert seen == [True, False, False]  # 23:55, 23:59, 00:01: one person, one count
    # Someone else, and the same person on another service, still count at once.
    clock.set(MIDNIGHT + 120)
    assert node.ingestor.prepare(item, Client("203.0.113.10", "Firefox"), "web").counted
    other = ReportIn(service="instagram", problem="login")
    assert node.ingestor.prepare(other, client, "web").counted
    assert counted_at(MIDNIGHT + 11 * 60)  # 16 minutes after 23:55: counted again
