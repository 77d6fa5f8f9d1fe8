"""Subscription URLs as the admin API and pages show them after creation: the channel still
recognisable, the credentials masked. The stored URL stays whole: delivery needs it.

An Apprise URL carries its secrets everywhere: a password (``mailto://user:pw@host``), a token as
the first part (``tgram://BOTID:TOKEN/CHAT``, ``pbul://TOKEN``), tokens as path segments
(``slack://A/B/C``, ``discord://ID/TOKEN``, an ntfy topic), tokens in the query (``?token=``).
So :func:`mask_url` keeps the scheme, a first part that is a host name or an address (with its
port), and the query's keys; everything else becomes ``****``. A first part that is not a host
name is a token: it shows its first four characters when it is long (at least 16), so that two
bots can be told apart, and nothing otherwise. A signed JSON webhook keeps its path as well
(``https://hooks.example.org/panne?key=****``).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote, urlsplit

MASK = "****"
PREFIX_FROM = 16  # a token at least this long shows its first four characters
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^([a-z]{2,24}|xn--[a-z0-9-]{1,59})$")


def _is_host(host: str) -> bool:
    """A host name (two labels or more, an alphabetic top-level domain), an IP address or
    ``localhost``: a server, not a token."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    labels = host.split(".")
    return (
        len(labels) >= 2
        and all(_LABEL.match(label) for label in labels)
        and bool(_TLD.match(labels[-1]))
    )


def _token(part: str) -> str:
    return part[:4] + MASK if len(part) >= PREFIX_FROM else MASK


def _split_hostport(hostport: str) -> tuple[str, str]:
    """``host`` and ``port`` (maybe empty) of ``host:port`` or ``[v6]:port``; a "port" that is
    not a number means the whole thing is not a host and port (``BOTID:TOKEN``)."""
    if hostport.startswith("[") and "]" in hostport:
        host, _, rest = hostport.partition("]")
        return host + "]", rest.removeprefix(":")
    host, _, port = hostport.partition(":")
    return host, port


def _query(query: str) -> str:
    """Keep each key, mask each value: ``a=1&b=2`` → ``a=****&b=****``; a lone item (no ``=``)
    may itself be a secret and is masked whole."""
    items = []
    for item in query.split("&"):
        key, eq, _ = item.partition("=")
        items.append(f"{key}={MASK}" if eq else (MASK if item else ""))
    return "&".join(items)


def mask_url(url: str, *, webhook: bool = False) -> str:
    """``url`` with its credentials replaced by ``****`` (see the module's docstring);
    ``webhook=True`` for the signed JSON webhook, whose host, port and path stay readable."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.scheme:
        return MASK
    out = parts.scheme + ":"
    rest = parts.path
    if url[len(parts.scheme) + 1 :].startswith("//"):
        out += "//"
        _, at, hostport = parts.netloc.rpartition("@")
        if at:
            out += MASK + "@"
        host, port = _split_hostport(hostport)
        if port.isdigit() or not port:
            out += (host if webhook or _is_host(host) else _token(host)) + (
                ":" + port if port else ""
            )
        else:
            out += _token(hostport)
    if rest:
        out += rest if webhook else "/".join(MASK if seg else "" for seg in rest.split("/"))
    if parts.query:
        out += "?" + _query(parts.query)
    if parts.fragment:
        out += "#" + MASK
    return out


def _secrets(url: str, webhook: bool) -> list[str]:
    """The pieces of ``url`` that :func:`mask_url` hides."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    found: list[str] = []
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at:
        found += [userinfo, *userinfo.split(":")]
    host, port = _split_hostport(hostport)
    if port and not port.isdigit():
        found += [hostport, port]
    elif not webhook and not _is_host(host):
        found.append(host)
    if not webhook:
        found += parts.path.split("/")
    found += [item.partition("=")[2] or item for item in parts.query.split("&")]
    found.append(parts.fragment)
    return found


def scrub(text: str, url: str, *, webhook: bool = False) -> str:
    """``text`` (an error, a reason for disabling) without ``url`` or its secrets: the URL
    itself becomes its masked form, then any secret piece of it that is long enough to be
    one (six characters or more: shorter ones would mask ordinary words) becomes ``****``."""
    if not text or not url:
        return text
    text = text.replace(url, mask_url(url, webhook=webhook))
    pieces = {p for s in _secrets(url, webhook) for p in (s, unquote(s)) if len(p) >= 6}
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, MASK)
    return text
