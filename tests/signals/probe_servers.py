"""Real servers on loopback for the probe tests: HTTP(S) that fails on demand, a UDP DNS
responder, certificates made on the spot. They run in the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ParamSpec, cast

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from panne.clock import SystemClock, utc

P = ParamSpec("P")


def aio(fn: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test in its own event loop (the servers live in that loop too)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run


async def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``check`` every 20 ms until it holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


BODY = b'{"status": {"indicator": "none", "ok": true, "text": "operational"}, "items": [1, 2]}'


class HttpServer:
    """An HTTP/1.1 server whose ``mode`` the test switches: ``ok``, ``503``, ``404``,
    ``slow`` (answers after ``delay`` seconds), ``wrong`` (200 without the keyword) or
    ``redirect``. ``delay`` also slows the ``ok`` answer when set, for concurrency tests."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.mode = "ok"
        self.delay = 0.0
        self.requests = 0
        self.active = 0
        self.max_active = 0
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = "localhost" if self.tls else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}/health"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                try:
                    if self.mode == "slow":
                        await asyncio.sleep(max(self.delay, 5.0))
                    elif self.delay:
                        await asyncio.sleep(self.delay)
                    writer.write(self._response())
                    await writer.drain()
                finally:
                    self.active -= 1
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # the loop is closing; a cancelled handler makes Python 3.11's asyncio log noise
        finally:
            writer.close()

    def _response(self) -> bytes:
        status, body, extra = {
            "503": (b"503 Service Unavailable", b"down", b""),
            "404": (b"404 Not Found", b"nope", b""),
            "wrong": (b"200 OK", b"<html>maintenance</html>", b""),
            "redirect": (b"302 Found", b"", b"Location: http://10.0.0.1/\r\n"),
        }.get(self.mode, (b"200 OK", BODY, b""))
        return (
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n" + extra
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )  # fmt: skip


@contextlib.asynccontextmanager
async def http_server(tls: ssl.SSLContext | None = None) -> AsyncIterator[HttpServer]:
    srv = HttpServer(tls)
    server = await asyncio.start_server(srv._handle, "127.0.0.1", 0, ssl=tls)
    srv.port = server.sockets[0].getsockname()[1]
    try:
        yield srv
    finally:
        server.close()
        await server.wait_closed()


class DnsResponder(asyncio.DatagramProtocol):
    """Answers ``ok.test`` (A 192.0.2.1, AAAA 2001:db8::1), ``www.test`` (CNAME ok.test),
    NXDOMAIN for other names, and nothing at all for ``slow.test``."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.queries = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queries += 1
        query = dns.message.from_wire(data)
        question = query.question[0]
        name, rdtype = question.name.to_text(), question.rdtype
        if name == "slow.test.":
            return
        response = dns.message.make_response(query)
        records = {
            ("ok.test.", dns.rdatatype.A): ("A", "192.0.2.1"),
            ("ok.test.", dns.rdatatype.AAAA): ("AAAA", "2001:db8::1"),
            ("www.test.", dns.rdatatype.CNAME): ("CNAME", "ok.test."),
        }
        if (name, rdtype) in records:
            kind, value = records[(name, rdtype)]
            response.answer.append(dns.rrset.from_text(name, 60, "IN", kind, value))
        elif name not in ("ok.test.", "www.test."):
            response.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@contextlib.asynccontextmanager
async def dns_responder() -> AsyncIterator[tuple[DnsResponder, int]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        DnsResponder, local_addr=("127.0.0.1", 0)
    )
    try:
        yield protocol, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


@dataclass(frozen=True)
class Certificates:
    """A CA and leaf certificates for ``localhost`` and 127.0.0.1, as PEM."""

    ca: bytes
    short: tuple[bytes, bytes]  # (certificate, key), valid for three more days
    expired: tuple[bytes, bytes]  # ended yesterday

    def server_context(self, which: str = "short") -> ssl.SSLContext:
        cert, key = getattr(self, which)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with _files(cert, key) as (cert_path, key_path):
            ctx.load_cert_chain(cert_path, key_path)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca.decode())


@contextlib.contextmanager
def _files(*blobs: bytes) -> Iterator[tuple[str, ...]]:
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, blob in enumerate(blobs):
            path = Path(folder) / f"{i}.pem"
            path.write_bytes(blob)
            paths.append(str(path))
        yield tuple(paths)


def make_certificates() -> Certificates:
    now = utc(SystemClock().now())
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "panne test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(start: timedelta, end: timedelta) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + start)
            .not_valid_after(now + end)
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    return Certificates(
        ca=ca.public_bytes(serialization.Encoding.PEM),
        short=leaf(timedelta(hours=-1), timedelta(days=3)),
        expired=leaf(timedelta(days=-10), timedelta(days=-1)),
    )
