"""What the admin API and the admin pages both do: validate and store subscriptions, maintenance
windows and operators' updates. One place for the rules, whichever way a person came in; every
refusal is a :class:`ProblemError` naming the field."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from panne.clock import EARLIEST_INPUT, LATEST_INPUT
from panne.node import Node
from panne.notify.channels import (
    address_refusal,
    apprise_url_ok,
    webhook_host,
)
from panne.notify.redact import mask_url, scrub
from panne.signals.countries import COUNTRY_CODES
from panne.signals.typed_text import control_character, http_url_problem
from panne.store import incidents as incident_store
from panne.store import maintenance as maintenance_store
from panne.store import notifications as store
from panne.store import status_updates as update_store
from panne.store.maintenance import Maintenance
from panne.store.notifications import Delivery, Subscription
from panne.store.status_updates import StatusUpdate, UpdateState
from panne.web.problems import ProblemError


def _no_controls(value: str, allowed: str = "") -> str:
    """Text is shown on pages, sent in messages and stored (PostgreSQL refuses NUL): no control
    characters, but the line breaks and tabs of ``allowed``."""
    bad = control_character("".join(c for c in value if c not in allowed))
    if bad is not None:
        raise PydanticCustomError(
            "control_character", "must not contain a control character ({c})", {"c": bad}
        )
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be blank")
    return value


Line = Annotated[str, AfterValidator(_no_controls), AfterValidator(_not_blank)]  # one line
OptionalLine = Annotated[str, AfterValidator(_no_controls)]  # the same, or empty
# A message, with its line breaks; not blank: an update saying nothing is posted by mistake.
Text = Annotated[
    str, AfterValidator(lambda v: _no_controls(v, "\n\r\t")), AfterValidator(_not_blank)
]
Country = Annotated[str, AfterValidator(lambda c: c.strip().upper())]  # "fr" is FR, as elsewhere
Secret = Annotated[str, Field(min_length=16, max_length=200), AfterValidator(_no_controls)]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(
        min_length=1, max_length=200, description="who subscribes (a person, a team)"
    )
    services: list[str] = Field(default_factory=list, description="service slugs")
    groups: list[str] = Field(default_factory=list, description="group (company) slugs")
    countries: list[Country] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes")
    min_severity: Literal["minor", "major", "critical"] = "minor"
    language: Literal["en", "fr"] = "en"
    webhook_url: str | None = Field(None, max_length=2000, description="signed JSON POSTs")
    apprise_url: str | None = Field(None, max_length=2000, description="any Apprise URL")
    secret: Secret | None = Field(None, description="webhook secret (default: generated)")


class SubscriptionPatch(BaseModel):
    """A change to a subscription: the fields given replace the stored ones, the rest stay.
    A new ``webhook_url`` or ``apprise_url`` may change the channel too."""

    model_config = ConfigDict(extra="forbid")

    name: Line | None = Field(None, min_length=1, max_length=200)
    services: list[str] | None = None
    groups: list[str] | None = None
    countries: list[Country] | None = None
    min_severity: Literal["minor", "major", "critical"] | None = None
    language: Literal["en", "fr"] | None = None
    webhook_url: str | None = Field(None, max_length=2000, description="signed JSON POSTs")
    apprise_url: str | None = Field(None, max_length=2000, description="any Apprise URL")
    secret: Secret | None = Field(None, description="a new webhook secret")
    new_secret: bool = Field(False, description="a new webhook secret, generated")


class StatusUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: UpdateState = Field(description="investigating, identified, monitoring or resolved")
    title: OptionalLine = Field("", max_length=200, description="a short headline (optional)")
    body: Text = Field(min_length=1, max_length=5000, description="what people should know")


class MaintenanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str
    starts_at: datetime
    ends_at: datetime
    title: Line = Field(min_length=1, max_length=400)


def _invalid(detail: str, field: str) -> ProblemError:
    return ProblemError(422, detail, title="Invalid request", field=field)


def _epoch(value: datetime, name: str) -> int:
    """Epoch seconds of a time a person gave, refused outside 2000-9999 (UTC): a window in year 1
    is a typo, and a time ``datetime`` cannot hold once in UTC would break every reader."""
    if value.tzinfo is None:
        raise _invalid(f"{name}: times need a time zone, e.g. 2024-03-05T15:00:00Z", name)
    ts = value.timestamp()
    if not EARLIEST_INPUT <= ts <= LATEST_INPUT:
        raise _invalid(f"{name}: must be from 2000-01-01 to 9999-12-31 (UTC)", name)
    return int(ts)


def check_subscription(node: Node, body: SubscriptionIn) -> tuple[str, str]:
    """The channel and URL of a valid subscription; 422 naming the field otherwise."""
    catalog = node.catalog
    for slug in body.services:
        if slug not in catalog.services:
            raise _invalid(f"services: no service {slug!r} in the catalog", "services")
    for slug in body.groups:
        if slug not in catalog.groups:
            raise _invalid(f"groups: no group {slug!r} in the catalog", "groups")
    for code in body.countries:
        if code not in COUNTRY_CODES:
            raise _invalid(f"countries: {code!r} is not an ISO 3166-1 alpha-2 code", "countries")
    if (body.webhook_url is None) == (body.apprise_url is None):
        raise _invalid("give exactly one of webhook_url and apprise_url", "webhook_url")
    if body.webhook_url is not None:
        problem = http_url_problem(body.webhook_url)
        if problem is not None:
            raise _invalid(f"webhook_url: {problem}", "webhook_url")
        host = webhook_host(body.webhook_url)
        try:
            why = address_refusal(str(ipaddress.ip_address(host)))
        except ValueError:
            why = None  # a name: checked when sending, after resolution
        if why is not None and not node.settings.notify_allow_private:
            raise _invalid(
                f"webhook_url: {host} is a {why} address (allowed only with notify_allow_private)",
                "webhook_url",
            )
        return "webhook", body.webhook_url
    assert body.apprise_url is not None
    if body.secret is not None:
        raise _invalid("secret: only webhooks are signed", "secret")
    if (bad := control_character(body.apprise_url)) is not None:
        raise _invalid(f"apprise_url: contains a control character ({bad})", "apprise_url")
    if not apprise_url_ok(body.apprise_url):
        raise _invalid("apprise_url: Apprise does not understand this URL", "apprise_url")
    return "apprise", body.apprise_url


def subscribe(node: Node, body: SubscriptionIn) -> Subscription:
    """Store a subscription; a webhook gets the secret given or a new one."""
    channel, url = check_subscription(node, body)
    secret = (body.secret or secrets.token_urlsafe(32)) if channel == "webhook" else None
    return store.create_subscription(
        node.engine,
        Subscription(
            id=0,
            **_filters(body),
            channel=channel,
            url=url,
            secret=secret,
            created_at=int(node.clock.now()),
        ),
    )


def _filters(body: SubscriptionIn) -> dict[str, Any]:
    """Who is told of what, in which language: what a subscription is besides its channel."""
    return {
        "name": body.name,
        "services": body.services,
        "groups": body.groups,
        "countries": body.countries,
        "min_severity": body.min_severity,
        "language": body.language,
    }


def edit(
    node: Node, sub_id: int, patch: SubscriptionPatch, *, channel: str | None = None
) -> tuple[Subscription, str | None]:
    """Change a subscription, checked as a new one would be; the answer holds the webhook's
    secret when this change set one (a webhook keeps its secret otherwise, and one that was
    another channel gets a new one). ``channel`` is the one a form chose: without a new URL it
    must be the subscription's own. 404 for an unknown subscription."""
    with node.engine.connect() as conn:
        old = store.get_subscription(conn, sub_id)
    if old is None:
        raise ProblemError(404, f"no subscription {sub_id}")
    urls = (patch.webhook_url, patch.apprise_url)
    if urls == (None, None):
        if channel is not None and channel != old.channel:
            raise _invalid("url: another channel needs its URL", "url")
        urls = (old.url, None) if old.channel == "webhook" else (None, old.url)
    body = SubscriptionIn(
        name=old.name if patch.name is None else patch.name,
        services=old.services if patch.services is None else patch.services,
        groups=old.groups if patch.groups is None else patch.groups,
        countries=old.countries if patch.countries is None else patch.countries,
        min_severity=patch.min_severity or old.min_severity,  # type: ignore[arg-type]
        language=patch.language or old.language,  # type: ignore[arg-type]
        webhook_url=urls[0],
        apprise_url=urls[1],
        secret=patch.secret,
    )
    channel, url = check_subscription(node, body)
    if patch.new_secret and channel != "webhook":
        raise _invalid("new_secret: only webhooks are signed", "new_secret")
    told = patch.secret
    if channel == "webhook" and told is None and (patch.new_secret or old.channel != "webhook"):
        told = secrets.token_urlsafe(32)
    secret = None if channel != "webhook" else told or old.secret
    changed = replace(old, **_filters(body), channel=channel, url=url, secret=secret)
    sub = store.update_subscription(node.engine, changed)
    if sub is None:  # deleted meanwhile
        raise ProblemError(404, f"no subscription {sub_id}")
    return sub, told


def enable(node: Node, sub_id: int) -> Subscription:
    """Send to a disabled or failing subscription again; 404 for an unknown one."""
    with node.engine.begin() as conn:
        found = store.enable(conn, sub_id)
        sub = store.get_subscription(conn, sub_id) if found else None
    if sub is None:
        raise ProblemError(404, f"no subscription {sub_id}")
    return sub


def shown(sub: Subscription) -> Subscription:
    """A subscription as every read shows it after creation: its URL masked
    (:func:`panne.notify.redact.mask_url`), no secret, and the URL's credentials scrubbed from
    the reason it was disabled. Only the answer that created it shows the URL whole."""
    webhook = sub.channel == "webhook"
    reason = sub.disabled_reason
    return replace(
        sub,
        url=mask_url(sub.url, webhook=webhook),
        secret=None,
        disabled_reason=None if reason is None else scrub(reason, sub.url, webhook=webhook),
    )


def shown_deliveries(rows: Iterable[Delivery], subs: Iterable[Subscription]) -> list[Delivery]:
    """Delivery-log rows whose detail (an error may quote the URL) is scrubbed of their
    subscription's URL; a deleted subscription's rows are left as they are."""
    by_id = {s.id: s for s in subs}
    out = []
    for d in rows:
        sub = by_id.get(d.subscription_id)
        if sub is not None and d.detail:
            d = replace(d, detail=scrub(d.detail, sub.url, webhook=sub.channel == "webhook"))
        out.append(d)
    return out


def plan_maintenance(node: Node, body: MaintenanceIn) -> Maintenance:
    if body.service not in node.catalog.services:
        raise _invalid(f"service: no service {body.service!r} in the catalog", "service")
    starts, ends = _epoch(body.starts_at, "starts_at"), _epoch(body.ends_at, "ends_at")
    if ends <= starts:
        raise _invalid("ends_at: must be after starts_at", "ends_at")
    return maintenance_store.add(
        node.engine, body.service, starts, ends, body.title, int(node.clock.now())
    )


def post_update(node: Node, incident_id: str, body: StatusUpdateIn, author: str) -> StatusUpdate:
    if incident_store.get(node.engine, incident_id) is None:
        raise ProblemError(404, f"no incident {incident_id!r}", title="Unknown incident")
    return update_store.add(
        node.engine,
        incident_id,
        body.state,
        body.body,
        author,
        int(node.clock.now()),
        title=body.title,
    )
