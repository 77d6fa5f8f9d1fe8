"""Serving the app: the address taken first, then uvicorn on that very socket.

A busy port or a wrong host must fail in a second, naming the option to change, before the node
migrates and warms up for nothing; and "serving on" is printed only once the server listens.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from panne import __version__
from panne.config import Settings


class ListenError(Exception):
    """The address cannot be listened on; the message names the option and the setting."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on ``host``:``port``, or a one-line error naming the
    option and the setting to change."""
    ipv6 = ":" in host
    where = f"[{host}]:{port}" if ipv6 else f"{host}:{port}"
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
