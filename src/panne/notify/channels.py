"""Channels: one shape for every way a message leaves panne (after healthchecks' transports).

A channel's ``send`` returns when the message was accepted and raises :class:`DeliveryError`
otherwise; ``permanent=True`` means retrying cannot help (the receiver said the address is gone,
or the URL is refused), and the dispatcher then disables the subscription at once.

Adding a channel: a class with ``async def send(self, message: Message) -> None`` that raises
:class:`DeliveryError`, a value of ``subscriptions.channel`` naming it, and a branch in
:func:`channel_for`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
import warnings
from functools import cache
from typing import Any, Protocol

import httpx
import orjson

from panne.notify.messages import Message
from panne.signals.typed_text import http_url_problem
from panne.store.notifications import Subscription


class DeliveryError(Exception):
    def __init__(self, detail: str, *, permanent: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent


class Channel(Protocol):
    async def send(self, message: Message) -> None: ...


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``Panne-Signature`` header: ``v1=`` and the hex HMAC-SHA256 of ``timestamp.body``.
    The timestamp is signed too, so a captured request cannot be replayed later."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def webhook_host(url: str) -> str:
    """The host a webhook URL names, after :func:`http_url_problem` found none."""
    return httpx.URL(url).host


def address_refusal(address: str) -> str | None:
    """Why a webhook may not reach ``address`` ("loopback", "private"…), or None if public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-global"


async def check_host(host: str, port: int) -> None:
    """Refuse a webhook whose host resolves to any non-public address (a name with one private
    address is refused whole). The check precedes the request, so a name that changes its
    answer in between (DNS rebinding) is not caught; the probes' GuardedBackend is the stronger
    design, should notifications ever need it."""
    try:
        literal: str | None = str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise DeliveryError(f"{host} does not resolve: {exc.strerror}") from None
        addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        why = address_refusal(address)
        if why is not None:
            raise DeliveryError(
                f"{host} is a {why} address: webhooks reach only public addresses "
                "unless notify_allow_private is set",
                permanent=True,
            )


class WebhookChannel:
    """POST the message as JSON, signed with the subscription's secret."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        secret: str,
        *,
        allow_private: bool,
        now: float,
    ) -> None:
        self.client = client
        self.url = url
        self.secret = secret
        self.allow_private = allow_private
        self.now = now

    async def send(self, message: Message) -> None:
        if (why := http_url_problem(self.url)) is not None:
            raise DeliveryError(f"{why}: {self.url}", permanent=True)
        url = httpx.URL(self.url)
        if not self.allow_private:
            await check_host(url.host, url.port or (443 if url.scheme == "https" else 80))
        body = orjson.dumps(message.to_json())
        timestamp = str(int(self.now))
        headers = {
            "Content-Type": "application/json",
            "Panne-Timestamp": timestamp,
            "Panne-Signature": sign(self.secret, timestamp, body),
        }
        try:
            # Streamed: of the answer only its status and the start of an error's body are
            # used, and a receiver may answer with hundreds of megabytes.
            async with self.client.stream(
                "POST", self.url, content=body, headers=headers
            ) as response:
                status = response.status_code
                if 200 <= status < 300:
                    return
                start = await _first_bytes(response, ERROR_BODY_BYTES)
                location = response.headers.get("location", "")
        except httpx.TimeoutException:
            raise DeliveryError("timed out") from None
        except httpx.InvalidURL as exc:  # not an HTTPError: the URL, not the network, is wrong
            raise DeliveryError(f"InvalidURL: {exc}", permanent=True) from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if 300 <= status < 400:
            # Redirects are not followed (a webhook that moved must be edited), so asking
            # again gets the same answer: give up at once, saying where it points.
            raise DeliveryError(
                f"HTTP {status} to {location or '(no Location)'}: redirects are not followed;"
                " change the subscription's URL",
                permanent=True,
            )
        text = f"HTTP {status}: {start.decode('utf-8', 'replace')[:200]}".strip()
        # 4xx says the request will never be accepted, except "try later" (408, 429).
        raise DeliveryError(text, permanent=400 <= status < 500 and status not in (408, 429))


ERROR_BODY_BYTES = 800  # enough for the 200 characters of an error that the log keeps


async def _first_bytes(response: httpx.Response, limit: int) -> bytes:
    got = b""
    async for chunk in response.aiter_bytes():
        got += chunk
        if len(got) >= limit:
            break
    return got[:limit]


@cache
def _apprise() -> Any:
    """Import Apprise and load its plugins once. One of them imports the deprecated ``imghdr``
    module; that warning is Apprise's, not ours, and must not fail a strict test run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise
        from apprise.manager_plugins import NotificationManager

        NotificationManager().load_modules()  # type: ignore[no-untyped-call]
    return apprise


def apprise_url_ok(url: str) -> bool:
    """Whether Apprise knows this URL's scheme and can parse it (no network)."""
    return bool(_apprise().Apprise().add(url))


class AppriseChannel:
    """Slack, Discord, Telegram, Teams, ntfy, Matrix, e-mail… through the Apprise library. Its
    ``notify`` blocks on the network, so it runs in a worker thread; Apprise applies its own
    per-service timeouts. It reports success or failure only, so failures are all retried."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _notify(self, subject: str, text: str) -> bool:
        apprise = _apprise()
        sender = apprise.Apprise()
        if not sender.add(self.url):
            raise DeliveryError("Apprise does not understand this URL", permanent=True)
        return bool(sender.notify(title=subject, body=text))

    async def send(self, message: Message) -> None:
        if not await asyncio.to_thread(self._notify, message.subject, message.text):
            raise DeliveryError("Apprise reported a failure (see the log for the service's answer)")


def channel_for(
    sub: Subscription, client: httpx.AsyncClient, *, allow_private: bool, now: float
) -> Channel:
    if sub.channel == "webhook":
        return WebhookChannel(
            client, sub.url, sub.secret or "", allow_private=allow_private, now=now
        )
    if sub.channel == "apprise":
        return AppriseChannel(sub.url)
    raise DeliveryError(f"unknown channel {sub.channel!r}", permanent=True)
