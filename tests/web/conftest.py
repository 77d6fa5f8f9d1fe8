"""A site with history and a live outage: a real server on loopback over a real SQLite file,
a day of simulated reports, and the March 2024 Meta outage replayed through the detector."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from tests.conftest import START, LiveServer, settings_for

from panne.clock import ManualClock
from panne.demo import replay
from panne.node import Node
from panne.simulate import TrafficModel, specs_from_catalog

ONSET = START + 600.0  # 15:10 UTC


@dataclass
class Site:
    server: LiveServer
    node: Node
    clock: ManualClock
    model: TrafficModel

    @property
    def url(self) -> str:
        return self.server.url


@contextmanager
def meta_outage_site(path: Path, **settings: object) -> Iterator[Site]:
    """Facebook, Instagram, Threads and Messenger down since 15:10, twenty minutes in: a day of
    history, then the outage replayed through the real detector, served on loopback."""
    clock = ManualClock(START)
    node = Node(
        settings_for(f"sqlite:///{path}", demo=True, rate_limit=False, **settings),
        clock=clock,
        background=False,
    )
    with LiveServer(node) as server:
        model = TrafficModel(specs_from_catalog(node.catalog), seed=3, scale=0.1, start=START)
        model.add_meta_2024(ONSET)
        replay(node, model, clock, ONSET + 1200)
        yield Site(server, node, clock, model)


@pytest.fixture(scope="module")
def outage_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with meta_outage_site(tmp_path_factory.mktemp("site") / "panne.db") as site:
        yield site


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed here")
    return path


ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """Debian's chromium, driven by Playwright (which never downloads a browser here)."""
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=ARGS)
        yield b
        b.close()
