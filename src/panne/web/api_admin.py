"""The admin JSON API: notification subscriptions, their delivery log, maintenance windows,
operators' updates on incidents.

Every route needs ``Authorization: Bearer KEY`` with a live key created with ``--trusted``
(``panne apikey create NAME --trusted``): a key that only submits reports cannot redirect
alerts. 401 without a key, 403 with an unknown, revoked or untrusted one.

A subscription's URL is shown whole only in the answer that created it; every read masks its
credentials (:func:`panne.web.admin_actions.shown`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from panne.node import Node
from panne.store import maintenance as maintenance_store
from panne.store import notifications as store
from panne.store.keys import ApiKey
from panne.store.maintenance import Maintenance
from panne.store.notifications import Delivery, Subscription
from panne.store.schema import MAX_ID
from panne.store.status_updates import StatusUpdate
from panne.web import admin_actions as actions
from panne.web.admin_actions import (
    MaintenanceIn,
    StatusUpdateIn,
    SubscriptionIn,
    SubscriptionPatch,
)
from panne.web.admin_auth import admin_key_dependency
from panne.web.api_incidents import iso
from panne.web.problems import ProblemError

# Ids in paths and queries are row ids: anything but 1 to 2**63 - 1 is refused (422) before it
# reaches the database, where SQLite cannot even bind it.
SubscriptionId = Annotated[int, Path(ge=1, le=MAX_ID, description="a subscription's id")]
WindowId = Annotated[int, Path(ge=1, le=MAX_ID, description="a maintenance window's id")]


def subscription_json(sub: Subscription, *, secret: str | None = None) -> dict[str, Any]:
    """A subscription; its webhook secret only once, in the answer that created it. Pass it
    through :func:`~panne.web.admin_actions.shown` first everywhere else."""
    out: dict[str, Any] = {
        "id": sub.id,
        "name": sub.name,
        "services": sub.services,
        "groups": sub.groups,
        "countries": sub.countries,
        "min_severity": sub.min_severity,
        "language": sub.language,
        "channel": sub.channel,
        "url": sub.url,
        "created_at": iso(sub.created_at),
        "consecutive_failures": sub.consecutive_failures,
        "failing": sub.failing,
        "disabled_at": iso(sub.disabled_at),
        "disabled_reason": sub.disabled_reason,
    }
    if secret is not None:
        out["secret"] = secret
    return out


def delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "subscription": d.subscription_id,
        "event_id": d.event_id,
        "incident_id": d.incident_id,
        "kind": d.kind,
        "attempt": d.attempt,
        "at": iso(d.at),
        "ok": d.ok,
        "outcome": d.outcome,
        "detail": d.detail,
        "duration_ms": d.duration_ms,
    }


def maintenance_json(m: Maintenance) -> dict[str, Any]:
    return {
        "id": m.id,
        "service": m.service,
        "starts_at": iso(m.starts_at),
        "ends_at": iso(m.ends_at),
        "title": m.title,
    }


def build_router(node: Node) -> APIRouter:
    admin_key = admin_key_dependency(node)
    router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(admin_key)])

    @router.post("/subscriptions", status_code=201, summary="Subscribe to incidents")
    def create_subscription(body: SubscriptionIn) -> dict[str, Any]:
        sub = actions.subscribe(node, body)
        return subscription_json(sub, secret=sub.secret)

    @router.get("/subscriptions", summary="Every subscription and its health")
    def list_subscriptions() -> dict[str, Any]:
        with node.engine.connect() as conn:
            subs = store.subscriptions_list(conn)
        return {"subscriptions": [subscription_json(actions.shown(s)) for s in subs]}

    @router.post(
        "/subscriptions/{sub_id}/enable", summary="Send to a disabled or failing subscription again"
    )
    def enable_subscription(sub_id: SubscriptionId) -> dict[str, Any]:
        return subscription_json(actions.shown(actions.enable(node, sub_id)))

    @router.patch("/subscriptions/{sub_id}", summary="Change a subscription")
    def edit_subscription(sub_id: SubscriptionId, body: SubscriptionPatch) -> dict[str, Any]:
        sub, secret = actions.edit(node, sub_id, body)
        return subscription_json(actions.shown(sub), secret=secret)

    @router.delete("/subscriptions/{sub_id}", status_code=204, summary="Unsubscribe")
    def delete_subscription(sub_id: SubscriptionId) -> Response:
        if not store.delete_subscription(node.engine, sub_id):
            raise ProblemError(404, f"no subscription {sub_id}")
        return Response(status_code=204)

    @router.get("/deliveries", summary="The delivery log, newest first")
    def list_deliveries(
        subscription: int | None = Query(
            None, ge=1, le=MAX_ID, description="one subscription's attempts"
        ),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        rows = store.deliveries_list(node.engine, subscription, limit)
        with node.engine.connect() as conn:
            subs = store.subscriptions_list(conn)
        return {"deliveries": [delivery_json(d) for d in actions.shown_deliveries(rows, subs)]}

    @router.post("/maintenance", status_code=201, summary="Plan a maintenance window")
    def create_maintenance(body: MaintenanceIn) -> dict[str, Any]:
        return maintenance_json(actions.plan_maintenance(node, body))

    @router.get("/maintenance", summary="Maintenance windows, earliest first")
    def list_maintenance(service: str | None = Query(None)) -> dict[str, Any]:
        windows = maintenance_store.windows(node.engine, service)
        return {"maintenance": [maintenance_json(m) for m in windows]}

    @router.delete("/maintenance/{window_id}", status_code=204, summary="Cancel a window")
    def delete_maintenance(window_id: WindowId) -> Response:
        if not maintenance_store.remove(node.engine, window_id):
            raise ProblemError(404, f"no maintenance window {window_id}")
        return Response(status_code=204)

    @router.post(
        "/incidents/{incident_id}/updates",
        status_code=201,
        summary="Write an update on an incident for the status pages",
    )
    def create_update(
        incident_id: str, body: StatusUpdateIn, key: ApiKey = Depends(admin_key)
    ) -> dict[str, Any]:
        return status_update_json(actions.post_update(node, incident_id, body, key.name))

    return router


def status_update_json(u: StatusUpdate) -> dict[str, Any]:
    return {
        "id": u.id,
        "incident_id": u.incident_id,
        "state": u.state,
        "title": u.title,
        "body": u.body,
        "author": u.author,
        "created_at": iso(u.created_at),
    }
