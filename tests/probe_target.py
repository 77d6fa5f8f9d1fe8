"""The probe tests' HTTP target (tests/signals/probe_servers.py) in a thread with its own event
loop, so synchronous tests (a live panne, ``node.probe_once()``, a CLI subprocess) can probe
it while switching its ``mode``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.signals.probe_servers import HttpServer, http_server
from tests.threaded import in_thread


@contextmanager
def threaded_http_server() -> Iterator[HttpServer]:
    with in_thread(http_server(), "probe-target") as srv:
        yield srv
