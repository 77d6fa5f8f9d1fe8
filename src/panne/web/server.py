"""Serving the app: the address taken first, then uvicorn on that very socket.

A busy port or a wrong host must fail in a second, naming the option to change, before the node
migrates and warms up for nothing; and "serving on" is printed only once the server listens.
SIGTERM and SIGINT shut the server down cleanly and the process exits 0, as `panne worker` and
`panne detector` do.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
from collections.abc import Iterator
from typing import Any

from panne import __version__
from panne.config import Settings, host_port


class ListenError(Exception):
    """The address cannot be listened on; the message names the option and the setting."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on ``host``:``port``, or a one-line error naming the
    option and the setting to change."""
    ipv6 = ":" in host
    where = host_port(host, port)
    try:
        # The family as uvicorn picks it: IPv6 for an IPv6 address, else IPv4 (a name too).
        family, kind, proto, _, address = socket.getaddrinfo(
            host,
            port,
            family=socket.AF_INET6 if ipv6 else socket.AF_INET,
            type=socket.SOCK_STREAM,
            flags=socket.AI_PASSIVE,
        )[0]
    except socket.gaierror as exc:
        raise ListenError(
            f"cannot listen on host {host!r} (--host, PANNE_HOST): {exc.strerror}"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        # Listening at once claims the port: another process cannot bind it meanwhile, and
        # connections wait in the backlog while the node starts.
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            why = f"port {port} is already in use on {host} (--port, PANNE_PORT)"
        elif exc.errno == errno.EADDRNOTAVAIL:
            why = f"{host} is not an address of this machine (--host, PANNE_HOST)"
        else:
            why = f"{exc.strerror} (--host/--port, PANNE_HOST/PANNE_PORT)"
        raise ListenError(f"cannot listen on {where}: {why}") from None
    sock.set_inheritable(True)
    return sock


def serve(app: Any, sock: socket.socket, settings: Settings) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            """uvicorn's signal handlers while it serves, then a clean exit. Once shut down,
            uvicorn raises the signal that stopped it again, for the handlers it found: the
            default ones would end the process with status 143 (SIGTERM) or a
            KeyboardInterrupt (SIGINT) after a clean shutdown. The ones it finds instead only
            ask it to exit: all a signal can mean just before uvicorn takes over, and nothing
            once it has stopped."""

            def stop(_sig: int, _frame: object) -> None:
                self.should_exit = True

            previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
            try:
                with super().capture_signals():
                    yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit:  # listening now: say so, and only now
                print(
                    f"panne {__version__} serving on {settings.public_url()} "
                    f"(database {settings.database_url})",
                    flush=True,
                )

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        proxy_headers=False,  # panne decides whom to believe (trusted_proxies)
        server_header=False,
    )
    Server(config).run(sockets=[sock])
