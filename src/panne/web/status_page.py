"""Public status pages: a company's services (``/status/{group}``) or a chosen set of them
(``/status?services=a,b``), as teams publish them: current state per component, a 90-day uptime
bar, incidents with the operator's updates, planned maintenance, and history.

Uptime is what panne measured, not what a vendor claims: the share of each UTC day that no
detected incident of the service covered. Everything is read from stored incidents, operator
updates and maintenance windows. The rendered page is kept a few seconds
(``status_page_cache_seconds``): during an outage its readers ask for the same few pages at
once, and each render costs the process that also takes their reports 10 to 100 ms.

A service under a maintenance window in progress reads "Under maintenance" rather than
"Possible problems": reports rising during planned work are expected. An open incident still
reads "Problems" (people cannot use the service, planned or not), as in the Statuspage API.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import Response

from panne.catalog import Service
from panne.incidents import SEVERITIES
from panne.status import STATES, ServiceStatus, all_statuses
from panne.store import incidents as incident_store
from panne.store import maintenance as maintenance_store
from panne.store import status_updates as update_store
from panne.store.incidents import IncidentRecord
from panne.store.maintenance import Maintenance
from panne.store.status_updates import StatusUpdate
from panne.web import i18n
from panne.web.statuspage_maintenance import in_progress

if TYPE_CHECKING:
    from panne.node import Node
    from panne.web.pages import Pages

DAY = 86_400
UPTIME_DAYS = 90
HISTORY_DAYS = 30
MAX_SERVICES = 50


@dataclass(frozen=True, slots=True)
class Day:
    start: int  # the UTC day's first second
    uptime: float  # share of the day no incident covered, in [0, 1]
    worst: str | None  # the most severe incident's severity that day, None when quiet
    incidents: int


@dataclass(frozen=True, slots=True)
class Component:
    service: Service
    status: ServiceStatus
    days: list[Day]
    uptime: float  # over all the days
    maintenance: Maintenance | None = None  # the window in progress, if any

    @property
    def state(self) -> str:
        """What the page says of it: ``maintenance`` under a window unless an incident is open."""
        if self.maintenance is not None and self.status.state != "outage":
            return "maintenance"
        return self.status.state


@dataclass(frozen=True, slots=True)
class StatusPageView:
    title: str
    components: list[Component]
    state: str  # the worst component's (one under maintenance counts as normal)
    active: list[IncidentRecord]
    history: list[IncidentRecord]
    updates: dict[str, list[StatusUpdate]]
    in_progress: list[Maintenance]  # windows begun and not ended, earliest first
    upcoming: list[Maintenance]  # windows not begun yet, earliest first
    custom_title: bool = False  # ?title= given: the page's whole title, shown as written

    @property
    def elides(self) -> bool:
        """Whether French elides "de" before the name ("État d’Amazon", "d’HBO"): a vowel, or
        an acronym's H (its letter's name starts with a vowel sound); "de YouTube", "de Hulu"."""
        name = self.title.lstrip()
        if name[:1].lower() in "aeiouàâäéèêëîïôöùûü" and name[:1]:
            return True
        return name[:1] == "H" and name[1:2].isupper()


def uptime_days(
    incidents: Sequence[IncidentRecord], service: str, today: int, now: float, days: int
) -> list[Day]:
    """One :class:`Day` per UTC day, oldest first, ending with ``today`` (a day start)."""
    spans = [
        (i.started_at, i.ended_at if i.ended_at is not None else now, i.severity)
        for i in incidents
        if i.kind == "service" and i.service == service
    ]
    out = []
    for k in range(days - 1, -1, -1):
        start = today - k * DAY
        end = min(start + DAY, now)
        if end <= start:
            out.append(Day(start, 1.0, None, 0))
            continue
        covered: list[tuple[float, float]] = []
        worst = None
        count = 0
        for s, e, severity in spans:
            lo, hi = max(s, start), min(e, end)
            if lo < hi:
                covered.append((lo, hi))
                count += 1
                if worst is None or SEVERITIES.index(severity) > SEVERITIES.index(worst):
                    worst = severity
        out.append(Day(start, 1.0 - _union(covered) / (end - start), worst, count))
    return out


def _union(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by possibly overlapping spans."""
    total, reach = 0.0, float("-inf")
    for lo, hi in sorted(spans):
        if hi <= reach:
            continue
        total += hi - max(lo, reach)
        reach = hi
    return total


def build(
    node: Node, title: str, services: list[Service], now: float, *, custom_title: bool = False
) -> StatusPageView:
    slugs = {s.slug for s in services}
    today = int(now // DAY) * DAY
    since = today - (UPTIME_DAYS - 1) * DAY
    records, _ = incident_store.query(node.engine, start=since, limit=100_000)
    mine = [
        r for r in records if r.service in slugs or (r.kind == "group" and slugs & set(r.members))
    ]
    statuses = all_statuses(node.engine, {s.id: s.slug for s in services if s.id}, now)
    windows = [m for slug in sorted(slugs) for m in maintenance_store.windows(node.engine, slug)]
    working = in_progress(windows, now)
    components = []
    for svc in services:
        days = uptime_days(mine, svc.slug, today, now, UPTIME_DAYS)
        uptime = sum(d.uptime for d in days) / len(days)
        components.append(Component(svc, statuses[svc.slug], days, uptime, working.get(svc.slug)))
    # A group incident stands for its members: show it, not each child again.
    grouped = {r.id for r in mine if r.kind == "group"}
    shown = [r for r in mine if r.parent_id not in grouped]
    active = [r for r in shown if r.status == "open"]
    history = [
        r for r in shown if r.status != "open" and (r.ended_at or 0) >= now - HISTORY_DAYS * DAY
    ]
    planned = sorted((m for m in windows if m.ends_at > now), key=lambda m: (m.starts_at, m.id))
    updates = update_store.for_incidents(node.engine, [r.id for r in mine])
    for r in mine:  # what was written on a member's incident shows on its company's
        if r.parent_id in grouped and r.id in updates:
            merged = updates.setdefault(r.parent_id, []) + updates[r.id]
            updates[r.parent_id] = sorted(merged, key=lambda u: (u.created_at, u.id))
    shown_states = [c.state if c.state != "maintenance" else "normal" for c in components]
    worst = max(shown_states, key=STATES.index, default="normal")
    return StatusPageView(
        title=title,
        components=components,
        state=worst,
        active=active,
        history=history,
        updates=updates,
        in_progress=[m for m in planned if m.starts_at <= now],
        upcoming=[m for m in planned if m.starts_at > now],
        custom_title=custom_title,
    )


def pgettext_for(lang: str) -> Any:
    """``pgettext`` for the template, escaping as the page's ``_`` does: a message in a context,
    for the French that depends on the name ("État d’Amazon" beside "État de Meta")."""
    trans = i18n.translations(lang)

    @pass_context
    def pgettext(context: Context, where: str, message: str, /, **variables: Any) -> str:
        text: str = str(trans.pgettext(where, message))
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables if variables else text

    return pgettext


def _lang(request: Request) -> str:  # as pages.lang_of, which imports this module
    return i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))


class RenderedPages:
    """Pages as rendered, each for ``seconds`` (0: none kept), the ``size`` most recent: a
    flood of distinct addresses costs renders, not memory."""

    def __init__(self, seconds: float, size: int = 256) -> None:
        self.seconds = seconds
        self.size = size
        self._pages: OrderedDict[tuple[str, ...], tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()  # page handlers run in the thread pool

    def get(self, key: tuple[str, ...], render: Callable[[], str]) -> str:
        if self.seconds <= 0:
            return render()
        now = time.monotonic()
        with self._lock:
            hit = self._pages.get(key)
            if hit is not None and hit[0] > now:
                self._pages.move_to_end(key)
                return hit[1]
        html = render()  # outside the lock: two first readers may both render, once
        with self._lock:
            self._pages[key] = (now + self.seconds, html)
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return html


def build_router(node: Node, pages: Pages) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    rendered = RenderedPages(node.settings.status_page_cache_seconds)

    def show(request: Request, view: Callable[[], StatusPageView]) -> Response:
        lang = _lang(request)
        html = rendered.get(
            (request.url.path, request.url.query, lang),
            lambda: pages.html(
                request, "status.html", lang, view=view(), pgettext=pgettext_for(lang)
            ),
        )
        return pages.respond(html, lang)

    @router.api_route("/status/{group}", methods=["GET", "HEAD"])
    def group_status(request: Request, group: str) -> Response:
        grp = node.catalog.groups.get(group)
        if grp is None:
            return pages.not_found(request, group)
        members = [s for s in node.catalog.services.values() if s.group == group]
        return show(request, lambda: build(node, grp.name, members, node.clock.now()))

    @router.api_route("/status", methods=["GET", "HEAD"])
    def chosen_status(request: Request, services: str = "", title: str = "") -> Response:
        cat = node.catalog
        chosen = dict.fromkeys(s.strip().lower() for s in services.split(","))
        wanted = [cat.services[s] for s in chosen if s in cat.services]
        if not wanted:
            return pages.not_found(request, services)
        # One line of visible text: control characters and runs of spaces would only hide it.
        given = " ".join("".join(c if c.isprintable() else " " for c in title).split())
        name = given[:100] or ", ".join(s.name for s in wanted[:3])
        return show(
            request,
            lambda: build(
                node, name, wanted[:MAX_SERVICES], node.clock.now(), custom_title=bool(given)
            ),
        )

    return router
