"""The admin pages: subscriptions and their delivery log, maintenance windows, operators'
updates on incidents, for a person in a browser. The same actions as the admin API
(:mod:`panne.web.admin_actions`), behind a session opened with a trusted API key
(:mod:`panne.web.admin_session`); every form is a same-site post with a session-bound token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from panne.store import incidents as incident_store
from panne.store import keys
from panne.store import maintenance as maintenance_store
from panne.store import notifications as notification_store
from panne.store.keys import ApiKey
from panne.store.notifications import Delivery, Subscription
from panne.web import admin_actions as actions
from panne.web import admin_session as session
from panne.web.problems import ProblemError, validation_detail

if TYPE_CHECKING:
    from panne.node import Node
    from panne.web.pages import Pages


Session = tuple[ApiKey, str]  # the signed-in key and its session cookie


def delivery_context(node: Node, rows: list[Delivery], subs: list[Subscription]) -> dict[str, Any]:
    """What the delivery log shows beside each row: its subscription's name (none once it is
    deleted) and its incident's title, read once per incident."""
    titles = {}
    for iid in dict.fromkeys(d.incident_id for d in rows):
        rec = incident_store.get(node.engine, iid)
        titles[iid] = rec.title if rec is not None else iid
    return {
        "deliveries": actions.shown_deliveries(rows, subs),
        "sub_names": {s.id: s.name for s in subs},
        "incident_titles": titles,
    }


def _list(form: dict[str, list[str]], name: str) -> list[str]:
    """A comma- or space-separated field as a list: "facebook, instagram"."""
    raw = " ".join(form.get(name, []))
    return [p.strip() for p in raw.replace(",", " ").split() if p.strip()]


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


def _when(form: dict[str, list[str]], name: str) -> datetime:
    """A ``datetime-local`` field, read as UTC (the form says so); a time typed or sent with its
    own offset keeps it."""
    try:
        when = datetime.fromisoformat(_one(form, name))
    except ValueError:
        raise ProblemError(422, f"{name}: not a date and time", title="Invalid request") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def build_router(node: Node, pages: Pages) -> APIRouter:
    router = APIRouter(prefix="/admin", include_in_schema=False)

    def signed_in(request: Request) -> Session | None:
        token = request.cookies.get(session.COOKIE, "")
        key = session.check(node.engine, token, node.clock.now())
        return None if key is None else (key, token)

    def page(request: Request, who: Session, status: int = 200, **ctx: Any) -> Response:
        with node.engine.connect() as conn:
            subs = notification_store.subscriptions_list(conn)
        now = node.clock.now()
        open_incidents, _ = incident_store.query(node.engine, active=True, limit=50)
        return pages.render(
            request,
            "admin.html",
            status=status,
            key=who[0],
            form_token=session.form_token(node.engine, who[1]),
            subscriptions=[actions.shown(s) for s in subs],
            maintenance=[m for m in maintenance_store.windows(node.engine) if m.ends_at > now],
            incidents=open_incidents,
            **delivery_context(
                node, notification_store.deliveries_list(node.engine, limit=20), subs
            ),
            now_local=datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M"),
            **ctx,
        )

    async def posted(request: Request) -> tuple[Session, dict[str, list[str]]] | None:
        """The session and form of a genuine same-site post, or None."""
        who = signed_in(request)
        if who is None:
            return None
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            return None
        if not session.form_ok(node.engine, who[1], _one(form, "token")):
            return None
        return who, form

    def refused(request: Request) -> Response:
        return pages.render(request, "admin_login.html", status=403, error="session")

    @router.get("")
    def admin(request: Request) -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/admin/login", 303)
        return page(request, who, done=request.query_params.get("done"))

    @router.get("/login")
    def login_form(request: Request) -> Response:
        return pages.render(request, "admin_login.html")

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        key = keys.verify(node.engine, _one(form, "key"))
        if key is None or not key.trusted:
            return pages.render(request, "admin_login.html", status=403, error="key")
        response = RedirectResponse("/admin", 303)
        response.set_cookie(
            session.COOKIE,
            session.issue(node.engine, key, node.clock.now()),
            max_age=session.SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/admin",
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        response = RedirectResponse("/admin/login", 303)
        response.delete_cookie(session.COOKIE, path="/admin")
        return response

    async def act(request: Request, do: Any) -> Response:
        """Run one form's action; show the page again with what went wrong, if anything."""
        got = await posted(request)
        if got is None:
            return refused(request)
        who, form = got
        try:
            done = do(who, form)
        except ValidationError as exc:
            detail, _ = validation_detail(list(exc.errors()), request=False)
            return page(request, who, status=422, error=detail)
        except ProblemError as exc:
            return page(request, who, status=exc.status, error=exc.detail)
        if isinstance(done, Response):
            return done
        return RedirectResponse(f"/admin?done={done}", 303)

    @router.post("/subscriptions")
    async def subscribe(request: Request) -> Response:
        def do(who: Session, form: dict[str, list[str]]) -> Any:
            channel = _one(form, "channel")
            body = actions.SubscriptionIn(
                name=_one(form, "name"),
                services=_list(form, "services"),
                groups=_list(form, "groups"),
                countries=[c.upper() for c in _list(form, "countries")],
                min_severity=_one(form, "min_severity") or "minor",  # type: ignore[arg-type]
                language=_one(form, "language") or "en",  # type: ignore[arg-type]
                webhook_url=_one(form, "url") if channel == "webhook" else None,
                apprise_url=_one(form, "url") if channel != "webhook" else None,
                secret=None,
            )
            sub = actions.subscribe(node, body)
            # The webhook's secret is shown once, on this answer, never in a URL.
            return page(request, who, status=201, done="subscribed", secret=sub.secret)

        return await act(request, do)

    @router.post("/subscriptions/{sub_id}/edit")
    async def edit(request: Request, sub_id: int) -> Response:
        def do(who: Session, form: dict[str, list[str]]) -> Any:
            url = _one(form, "url")  # empty: the same address
            webhook = _one(form, "channel") == "webhook"
            channel = "webhook" if webhook else "apprise"
            body = actions.SubscriptionPatch(
                name=_one(form, "name"),
                services=_list(form, "services"),
                groups=_list(form, "groups"),
                countries=[c.upper() for c in _list(form, "countries")],
                min_severity=_one(form, "min_severity") or None,  # type: ignore[arg-type]
                language=_one(form, "language") or None,  # type: ignore[arg-type]
                webhook_url=url if url and webhook else None,
                apprise_url=url if url and not webhook else None,
                secret=None,
                new_secret=_one(form, "new_secret") == "1",
            )
            _, secret = actions.edit(node, sub_id, body, channel=channel)
            if secret is None:
                return "changed"
            return page(request, who, done="changed", secret=secret)

        return await act(request, do)

    @router.post("/subscriptions/{sub_id}/delete")
    async def unsubscribe(request: Request, sub_id: int) -> Response:
        def do(_: Session, __: dict[str, list[str]]) -> str:
            if not notification_store.delete_subscription(node.engine, sub_id):
                raise ProblemError(404, f"no subscription {sub_id}")
            return "unsubscribed"

        return await act(request, do)

    @router.post("/subscriptions/{sub_id}/enable")
    async def enable(request: Request, sub_id: int) -> Response:
        def do(_: Session, __: dict[str, list[str]]) -> str:
            actions.enable(node, sub_id)
            return "enabled"

        return await act(request, do)

    @router.post("/maintenance")
    async def maintenance(request: Request) -> Response:
        def do(_: Session, form: dict[str, list[str]]) -> str:
            body = actions.MaintenanceIn(
                service=_one(form, "service"),
                starts_at=_when(form, "starts_at"),
                ends_at=_when(form, "ends_at"),
                title=_one(form, "title"),
            )
            actions.plan_maintenance(node, body)
            return "planned"

        return await act(request, do)

    @router.post("/maintenance/{window_id}/delete")
    async def cancel(request: Request, window_id: int) -> Response:
        def do(_: Session, __: dict[str, list[str]]) -> str:
            if not maintenance_store.remove(node.engine, window_id):
                raise ProblemError(404, f"no maintenance window {window_id}")
            return "cancelled"

        return await act(request, do)

    @router.post("/incidents/{incident_id}/updates")
    async def update(request: Request, incident_id: str) -> Response:
        def do(who: Session, form: dict[str, list[str]]) -> str:
            body = actions.StatusUpdateIn(
                state=_one(form, "state"),  # type: ignore[arg-type]
                title=_one(form, "title"),
                body=_one(form, "body"),
            )
            actions.post_update(node, incident_id, body, who[0].name)
            return "updated"

        return await act(request, do)

    @router.get("/deliveries")
    def deliveries(request: Request, subscription: int | None = None) -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/admin/login", 303)
        rows = notification_store.deliveries_list(node.engine, subscription, limit=200)
        with node.engine.connect() as conn:
            subs = notification_store.subscriptions_list(conn)
        return pages.render(
            request, "admin_deliveries.html", sub=subscription, **delivery_context(node, rows, subs)
        )

    return router
