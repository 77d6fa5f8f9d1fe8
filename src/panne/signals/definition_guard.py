"""The outbound-address guard, applied when a probe or a vendor page is *defined*.

Runs go through the guard anyway (probe_guard.py), but a private or loopback target found only
then fails quietly at every run. So wherever people define one, through the admin API
(web/api_probes.py, web/api_vendors.py) or in a catalog file (``panne catalog import``), its
host is resolved once and refused with the guard's own message, unless ``probe_allow_private``
(probes) or ``vendor_allow_private`` (vendor pages). A name that does not resolve yet is
accepted: its runs will say ``dns_failure``, which is what a probe is for.

Each check resolves in an event loop of its own (``asyncio.run``): callers are synchronous (a
route run in a worker thread, the command line), where no loop is running.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from panne.catalog import Catalog
from panne.signals.probe_guard import TargetRefused, resolve_checked
from panne.signals.probes import ProbeSpec, split_host_port
from panne.signals.vendor_poll import describe
from panne.signals.vendor_status import VendorSource

GUARD_TIMEOUT_SECONDS = 5.0


def probe_endpoint(spec: ProbeSpec) -> tuple[str, int] | None:
    """The host and port a run of ``spec`` connects to, or None when the system's resolvers
    answer it (a dns probe without its own resolver)."""
    if spec.kind == "http":
        url = urlsplit(spec.target)
        assert url.hostname is not None  # the spec's validation checked it
        return url.hostname, url.port or (443 if url.scheme == "https" else 80)
    if spec.kind == "tcp":
        return split_host_port(spec.target)
    if spec.kind == "tls":
        return split_host_port(spec.target, 443)
    return None if spec.resolver is None else split_host_port(spec.resolver, 53)


def _refusal(host: str, port: int, *, vendor: bool) -> str | None:
    async def check() -> None:
        async with asyncio.timeout(GUARD_TIMEOUT_SECONDS):
            await resolve_checked(host, port, allow_private=False)

    try:
        asyncio.run(check())
    except TargetRefused as exc:
        return describe(exc) if vendor else str(exc)
    except (OSError, TimeoutError):
        return None  # does not resolve now; the runs will tell
    except ValueError as exc:  # a name the resolver cannot even encode (the spec checks labels)
        return f"{host!r} cannot be resolved ({exc})"
    return None


def probe_refusal(spec: ProbeSpec) -> str | None:
    """The guard's reason to refuse the probe's target now, or None."""
    found = probe_endpoint(spec)
    return None if found is None else _refusal(*found, vendor=False)


def source_refusal(source: VendorSource) -> str | None:
    """The guard's reason to refuse the vendor page's host now, or None."""
    url = urlsplit(source.fetch_url)
    assert url.hostname is not None  # the source's validation checked it
    return _refusal(url.hostname, url.port or (443 if url.scheme == "https" else 80), vendor=True)


def catalog_refusal(
    catalog: Catalog, *, probe_allow_private: bool, vendor_allow_private: bool
) -> str | None:
    """The first probe target or status page of ``catalog`` the guard refuses, worded as the
    catalog's own errors (``services[3] (acme): probe 'api': target: …``), or None."""
    for i, svc in enumerate(catalog.services.values()):
        where = f"services[{i}] ({svc.slug})"
        if not probe_allow_private:
            for spec in svc.probes:
                why = probe_refusal(spec)
                if why is not None:
                    return f"{where}: probe {spec.id!r}: target: {why}"
        if svc.status_page is not None and not vendor_allow_private:
            why = source_refusal(svc.status_page)
            if why is not None:
                return f"{where}: status_page: url: {why}"
    return None
