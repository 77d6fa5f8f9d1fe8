"""What a person may type where panne later connects, sends or stores: no control characters,
and for addresses no spaces.

``urlsplit`` drops tabs and newlines and keeps spaces, and a host name with a space encodes to
IDNA, so ``http://exa mple.com`` and ``https://a.example/\\t`` passed every other check and failed
only at the first probe or poll, as a network error that looked like an outage.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

import httpx

_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")  # a DNS label, after IDNA encoding


def control_character(text: str) -> str | None:
    """The first control character of ``text`` (NUL, a newline, DEL…) as ``U+0000``, or None."""
    bad = next((c for c in text if unicodedata.category(c) == "Cc"), None)
    return None if bad is None else f"U+{ord(bad):04X}"


def address_text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a URL or a host name as written, or None."""
    if (bad := control_character(text)) is not None:
        return f"contains a control character ({bad})"
    space = next((c for c in text if c.isspace()), None)
    if space is not None:  # U+00A0 too, which looks like nothing is wrong
        return f"contains a space (U+{ord(space):04X}; write it as %20 in a URL)"
    return None


def http_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an http(s) address panne sends to or links to, or None: a
    webhook's (checked when a subscription is made, and again before each send, so a row
    stored before these checks fails once, for good, instead of being retried) or a catalog
    service's. Spaces in a path are left to :func:`address_text_problem`: httpx encodes them,
    and a stored webhook that has one still works."""
    if (bad := control_character(url)) is not None:
        return f"contains a control character ({bad})"
    try:
        port = urlsplit(url).port  # "[::1" and ":99999" raise here, not in httpx
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        return f"not a valid URL ({exc})"
    if parsed.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    host = parsed.raw_host.decode("ascii", "replace")  # international names as IDNA
    if not host:
        return "must name a host"
    if port is not None and not 1 <= port <= 65_535:
        return f"port {port} is not from 1 to 65535"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.lower().removesuffix(".").split(".")
        if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
            return f"{parsed.host!r} is not a host name or an IP address"
    return None
