"""NATS servers of a test's own: one to stop and start again, or a three-server JetStream
cluster to lose a server of, run from the machine's ``nats-server`` binary."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import nats
import pytest
from tests.conftest import free_port


def binary() -> str:
    found = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(found).exists():
        pytest.skip("no nats-server binary here")
    return found


class OwnNats:
    """One nats-server on a port of its own, storing in ``store``."""

    def __init__(
        self,
        store: Path,
        port: int | None = None,
        *,
        jetstream: bool = True,
        name: str = "n1",
        cluster: tuple[int, list[int]] | None = None,
    ) -> None:
        self.store, self.port, self.name = store, port or free_port(), name
        self.url = f"nats://127.0.0.1:{self.port}"
        self.args = [binary(), "-a", "127.0.0.1", "-p", str(self.port), "-n", name]
        if jetstream:
            self.args += ["-js", "-sd", str(store)]
        if cluster is not None:  # (this server's route port, every server's route port)
            own, routes = cluster
            self.args += [
                "--cluster_name",
                "panne-test",
                "--cluster",
                f"nats://127.0.0.1:{own}",
                "--routes",
                ",".join(f"nats://127.0.0.1:{p}" for p in routes if p != own),
            ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> None:
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                asyncio.run(_ping(self.url))
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def kill(self) -> None:
        """As a crash or a power cut: no goodbye to its peers."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


class NatsCluster:
    """Three JetStream servers routed to each other, as a replicated deployment runs them."""

    def __init__(self, root: Path) -> None:
        routes = [free_port() for _ in range(3)]
        self.servers = [
            OwnNats(root / f"n{i}", name=f"n{i}", cluster=(routes[i], routes)) for i in range(3)
        ]
        self.urls = tuple(s.url for s in self.servers)

    def start(self) -> None:
        for s in self.servers:  # all at once: JetStream waits for its peers to elect
            s.start(wait=False)
        for s in self.servers:
            s.wait_ready()
        asyncio.run(_wait_for_jetstream(self.urls))

    def stop(self) -> None:
        for s in self.servers:
            s.stop()

    def server(self, name: str) -> OwnNats:
        return next(s for s in self.servers if s.name == name)


async def _ping(url: str) -> None:
    nc = await nats.connect(url, connect_timeout=1, max_reconnect_attempts=0)
    await nc.close()


async def _wait_for_jetstream(urls: tuple[str, ...]) -> None:
    """Until the cluster has elected its JetStream meta leader and places a stream on all
    three servers."""
    from nats.js.api import StreamConfig

    nc = await nats.connect(list(urls))
    try:
        deadline = time.monotonic() + 20
        js = nc.jetstream()
        while True:
            try:
                await js.add_stream(StreamConfig(name="READY", subjects=[], num_replicas=3))
                await js.delete_stream("READY")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await nc.close()
