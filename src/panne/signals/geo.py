"""IP address to country, offline.

The data is MaxMind's GeoLite2 Country as shipped inside the ``geoip2fast`` package (IPv4 and
IPv6 in one file), so nothing is downloaded at run time. Loading takes a tenth of a second, so it
happens once, at start-up (:meth:`GeoLocator.warm`), not on a report's path.
"""

from __future__ import annotations

import threading
from typing import Any

DATA_FILE = "geoip2fast-ipv6.dat.gz"  # IPv4 and IPv6 country ranges


class GeoLocator:
    def __init__(self) -> None:
        self._db: Any = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Load the data now, so that the first request is not the slow one."""
        if self._db is None:
            with self._lock:
                if self._db is None:
                    from geoip2fast import GeoIP2Fast

                    self._db = GeoIP2Fast(geoip2fast_data_file=DATA_FILE, verbose=False)

    def country(self, ip: str) -> str | None:
        """ISO 3166-1 alpha-2 code, or None for private, reserved, unknown or invalid input."""
        if self._db is None:
            self.warm()
        try:
            found = self._db.lookup(ip)
        except Exception:  # the library raises its own errors on malformed input
            return None
        code = found.country_code
        if found.is_private or not isinstance(code, str) or len(code) != 2 or not code.isalpha():
            return None
        return code.upper()


def network_of(ip: str) -> str | None:
    """The client's network for rate limiting: IPv4 /24 or IPv6 /48; None if not an address.

    On the hot path, so a dotted quad is cut as a string; anything else goes through
    :mod:`ipaddress`.
    """
    head, dot, last = ip.rpartition(".")
    if dot and ":" not in ip:
        parts = head.split(".")
        if (
            len(parts) == 3
            and last.isdigit()
            and int(last) < 256
            and all(p.isdigit() and int(p) < 256 for p in parts)
        ):
            return f"{head}.0/24"
        return None
    import ipaddress

    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if addr.version == 4:  # pragma: no cover - dotted quads are handled above
        return None
    return str(ipaddress.ip_network(f"{addr}/48", strict=False))
