"""Who hears of an event, and whether it is worth a message: pure functions, no store, no clock.

A subscription matches an event when its services or groups name the incident's service, one
of a group incident's members, or its company (both lists empty: every service), when its
countries meet the incident's top countries (empty: anywhere), and when the event's severity
reaches the subscription's minimum. Resolutions skip the severity test but go only to those
who were told of the incident, so nobody hears "resolved" of something they never heard of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from panne.incidents import SEVERITIES
from panne.store.notifications import Subscription


@dataclass(frozen=True)
class EventFacts:
    """What matching needs of an event, read from its incident and snapshot."""

    kind: str
    incident_kind: str  # service | group
    services: tuple[str, ...]  # the service, or a group incident's members
    group: str | None
    countries: tuple[str, ...]
    severity: str
    has_parent: bool  # a service incident that a group incident covers


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def matches(sub: Subscription, facts: EventFacts) -> bool:
    if sub.disabled_at is not None:
        return False
    if sub.services or sub.groups:
        named = any(s in sub.services for s in facts.services)
        if not named and (facts.group is None or facts.group not in sub.groups):
            return False
    if facts.kind == "resolved":
        # Goes to whoever was told of the incident (decide): its countries are the last top
        # five, which the one a subscriber follows may have left since.
        return True
    if sub.countries and not set(sub.countries) & set(facts.countries):
        return False
    return severity_rank(facts.severity) >= severity_rank(sub.min_severity)


def decide(
    facts: EventFacts, told: Sequence[tuple[str, int]], at: int, flap_seconds: float
) -> tuple[str | None, str]:
    """The kind of message to send for this event to one subscriber, or None and why not.

    ``told`` is what the subscriber was told of the incident so far, ``(kind, event time)`` in
    order. The detector emits ``updated`` only on news, so updates pass; flapping is damped
    here: a reopening is sent at most once per ``flap_seconds``, and a resolution only when the
    subscriber's last word was not already "resolved".
    """
    kind = facts.kind
    last = told[-1][0] if told else None
    if kind == "resolved":
        if not told:
            return None, ""  # never told of it: nothing to say, nothing to log
        if last == "resolved":
            return None, "flapping: already told it is resolved"
        return "resolved", ""
    if facts.has_parent and kind in ("opened", "updated"):
        return None, ""  # the group incident carries the news (member_added), told once
    if kind == "reopened":
        recent = [t for k, t in told if k == "reopened" and at - t < flap_seconds]
        if recent:
            return None, f"flapping: a reopening was already sent at {recent[-1]}"
        return "reopened", ""
    return kind, ""
