"""The outbound-address guard: probes reach the public internet, not the operator's network.

Probe targets come from people (a catalog, later an admin API). Without a guard a probe of
``http://169.254.169.254/`` reads a cloud's metadata service and one of ``10.0.0.5:5432`` maps
the operator's network. So every probe resolves its host first, refuses when any address is
private, loopback, link-local, multicast, reserved or otherwise not global, and then connects
to the address it checked, never resolving again: a name that resolves to a public address
for the check and to 127.0.0.1 for the connection (DNS rebinding) gets nowhere.
``probe_allow_private`` turns the refusal off, for tests and for monitoring an intranet.

HTTP goes through :class:`GuardedBackend`, an httpcore network backend, so the guard sits under
the shared client's connection pool: every connection the client opens is checked, and TLS is
still verified against the name in the URL. What fails below the client arrives wrapped (httpx
wraps httpcore, which wraps the socket's error; anyio's task groups wrap it in an exception
group), so probes and vendor polls both read failures through :func:`exception_chain`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Iterator

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The target resolves to an address probes may not reach; the message says which."""


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and contexts, and the members of exception groups, outermost
    first, each once."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)


def address_kind(address: IPAddress) -> str | None:
    """Why an address is not public ("loopback", "private", …), or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_kind(address.ipv4_mapped)
    for name in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    if not address.is_global:  # shared (100.64/10), documentation, benchmarking ranges …
        return "non-global"
    return None


def check_address(host: str, address: IPAddress, allow_private: bool) -> None:
    kind = None if allow_private else address_kind(address)
    if kind is not None:
        shown = host if host == str(address) else f"{host} ({address})"
        raise TargetRefused(
            f"{shown} is a {kind} address: probes reach only public addresses "
            "unless probe_allow_private is set"
        )


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses of ``host``, each one checked; raises :class:`TargetRefused` when any is
    not public (a name with one private address is refused whole, not filtered, so that what
    is probed does not depend on which address comes first) and ``socket.gaierror`` when the
    name does not resolve."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        check_address(host, literal, allow_private)
        return [str(literal)]
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone
        check_address(host, ipaddress.ip_address(text), allow_private)
        if text not in addresses:
            addresses.append(text)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, behind :func:`resolve_checked`: connections go to checked
    addresses only, tried in order."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_checked(host, port, allow_private=self._allow_private)
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None  # getaddrinfo never answers an empty list
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("probes do not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool whose every connection passes the guard. httpx has no
    hook for the network backend, so the pool it built is replaced by an equal one; probes and
    vendor-page polls both go out through it."""

    def __init__(
        self, ssl_context: ssl.SSLContext, limits: httpx.Limits, *, allow_private: bool
    ) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private=allow_private),
        )
