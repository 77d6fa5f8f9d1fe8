"""The tables, in SQLAlchemy Core. Alembic migrations (store/migrations) create them.

Times are integers of epoch milliseconds (reports) or epoch seconds of a minute's start (counts):
cheap to compare, index and bucket with the same SQL on both backends.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

# The largest id a row can have on either backend (a signed 64-bit integer). An id beyond it, from a
# URL or a query, names no row: readers answer "none" without asking SQLite, which would raise.
MAX_ID = 2**63 - 1


def valid_id(value: int) -> bool:
    """Whether ``value`` can be the id of a row (1 to :data:`MAX_ID`)."""
    return 1 <= value <= MAX_ID


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

settings_kv = Table(
    "settings_kv",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)

problem_categories = Table(
    "problem_categories",
    metadata,
    Column("slug", String(64), primary_key=True),
    Column("names", JSON, nullable=False),
    Column("position", Integer, nullable=False, default=0),
)

groups = Table(
    "groups",
    metadata,
    Column("slug", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
)

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("group_slug", String(64), ForeignKey("groups.slug"), nullable=True),
    Column("url", String(2000), nullable=False),
    Column("aliases", JSON, nullable=False),
    Column("problems", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

# One row per accepted report. `reporter` is an HMAC of address and user agent under a salt
# that is replaced every day and then deleted: the raw address is never stored.
reports = Table(
    "reports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("problem", String(64), nullable=False),
    Column("country", String(2), nullable=False),
    Column("occurred_ms", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("reporter", String(32), nullable=True),
    Column("counted", Boolean, nullable=False),
    Column("source", String(16), nullable=False),
    Column("api_key_id", Integer, ForeignKey("api_keys.id"), nullable=True),
    # The id is time-ordered, so time ranges are key ranges: no other index is needed on
    # the table that every report is written to, and on SQLite the rows live in the key's tree.
    sqlite_with_rowid=False,
)

# Per-minute counts per (service, country, problem), kept in the same transaction as the reports
# they count, so they are exact after any restart.
counts = Table(
    "counts",
    metadata,
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("country", String(2), primary_key=True),
    Column("problem", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
    Index("ix_counts_minute", "minute"),
)

# When each reporter last counted for each service, within `dedupe_window_minutes`: the dedupe
# memory that every worker of the report stream shares (store/first_reports.py). Rows older than
# the window are deleted; the rest are a few per person reporting right now.
first_reports = Table(
    "first_reports",
    metadata,
    Column("reporter", String(32), primary_key=True),
    Column("service_id", Integer, primary_key=True),
    Column("counted_ms", BigInteger, nullable=False),
    Index("ix_first_reports_counted_ms", "counted_ms"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("trusted", Boolean, nullable=False, default=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

salts = Table(
    "salts",
    metadata,
    Column("day", Integer, primary_key=True),
    Column("salt", LargeBinary(32), nullable=False),
)


# An incident of one service, or of a group (a company) whose services fail together. The
# columns are what lists filter and sort on; `detail` keeps the whole snapshot.
incidents = Table(
    "incidents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # service | group
    Column("service", String(64), nullable=True),
    Column("group_slug", String(64), nullable=True),
    Column("parent_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),  # open | resolved
    Column("severity", String(16), nullable=False),
    Column("title", String(400), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("detected_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Column("peak_per_minute", Float, nullable=False),
    Column("peak_ratio", Float, nullable=False),
    Column("countries", JSON, nullable=False),  # [[code, reports], ...] most affected first
    Column("problems", JSON, nullable=False),  # {slug: percent}
    Column("members", JSON, nullable=False),  # service slugs of a group incident
    Column("detail", JSON, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_incidents_started_at", "started_at"),
    Index("ix_incidents_service", "service", "started_at"),
    Index("ix_incidents_group", "group_slug", "started_at"),
    Index("ix_incidents_status", "status"),
)

# Every transition of an incident, in order: the timeline, and the queue notifiers claim.
incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("snapshot", JSON, nullable=False),
    Column("notified_at", BigInteger, nullable=True),
    Index("ix_incident_events_incident", "incident_id", "id"),
)

# What the detector expected for each service and minute, beside what it saw: the baseline band
# of the charts, and the status of a service without re-running any detector.
expectations = Table(
    "expectations",
    metadata,
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("observed", Integer, nullable=False),
    Column("expected", Float, nullable=False),
    Column("score", Float, nullable=False),
    Column("alert", Boolean, nullable=False),
    Index("ix_expectations_minute", "minute"),
)

# Saved state of the live detectors and incident machines, so a restart resumes, not relearns.
detector_state = Table(
    "detector_state",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Active probes (signals/probes.py): their definitions, every run, and each probe's up/down
# state. Results keep no foreign key: the hottest probe table takes plain inserts, and history
# may outlive a definition until it is pruned. Times are epoch milliseconds.
probes = Table(
    "probes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("service", String(64), nullable=False),
    Column("kind", String(8), nullable=False),  # http | tcp | dns | tls
    Column("target", String(2000), nullable=False),
    Column("interval_seconds", Float, nullable=False),
    Column("spec", JSON, nullable=False),  # the whole ProbeSpec, as ProbeSpec.to_dict()
    Column("enabled", Boolean, nullable=False, default=True),
    Column("updated_at", BigInteger, nullable=False),
    # Where it was defined: "admin" (the admin API) or "catalog" (a catalog file, whose
    # imports replace and remove only their own).
    Column("origin", String(8), nullable=False, server_default="admin"),
    Index("ix_probes_service", "service"),
)

probe_results = Table(
    "probe_results",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),  # SQLite: the rowid itself
        primary_key=True,
        autoincrement=True,
    ),
    Column("probe_id", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("error_class", String(32), nullable=True),
    Column("detail", String(500), nullable=False),
    Index("ix_probe_results_probe_at", "probe_id", "at"),
    Index("ix_probe_results_at", "at"),
)

probe_state = Table(
    "probe_state",
    metadata,
    Column("probe_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),  # unknown | up | down
    Column("fail_streak", Integer, nullable=False),
    Column("ok_streak", Integer, nullable=False),
    Column("streak_since", BigInteger, nullable=True),
    Column("since", BigInteger, nullable=True),
    Column("last_at", BigInteger, nullable=True),
)

# Every up/down change of a probe, in order; notifiers and incident fusion claim them.
probe_events = Table(
    "probe_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("probe_id", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("since", BigInteger, nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("error_class", String(32), nullable=True),
    Column("detail", String(500), nullable=False),
    Column("notified_at", BigInteger, nullable=True),
    Index("ix_probe_events_probe", "probe_id", "id"),
)

# Notifications (panne/notify): who wants to hear of which incidents and how, the outbox of
# messages still to send (its attempt count survives a restart), one log row per attempt, and
# maintenance windows that silence a service. Times are epoch seconds.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("services", JSON, nullable=False),  # service slugs; empty with groups: any
    Column("groups", JSON, nullable=False),  # group (company) slugs
    Column("countries", JSON, nullable=False),  # ISO codes; empty: any country
    Column("min_severity", String(16), nullable=False),  # minor | major | critical
    Column("language", String(8), nullable=False),  # en | fr
    Column("channel", String(16), nullable=False),  # webhook | apprise
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=True),  # webhook signing secret
    Column("created_at", BigInteger, nullable=False),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("failing", Boolean, nullable=False, default=False),
    Column("disabled_at", BigInteger, nullable=True),
    Column("disabled_reason", String(500), nullable=True),
    sqlite_autoincrement=True,  # never reuse an id: the delivery log is keyed on it (0009)
)

notification_queue = Table(
    "notification_queue",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", Integer, ForeignKey("subscriptions.id"), nullable=False),
    Column("event_id", Integer, ForeignKey("incident_events.id"), nullable=False),
    Column("incident_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),  # what the message says: the event's kind
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger, nullable=True),  # a sender's claim, compare-and-swap
    Index("ix_notification_queue_next_at", "next_at"),
    Index("ix_notification_queue_subscription", "subscription_id", "incident_id"),
    sqlite_autoincrement=True,  # a stale read of a sent message must never lease a new one
)

# The delivery log keeps no foreign key: it outlives deleted subscriptions, and takes inserts.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", Integer, nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("incident_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("attempt", Integer, nullable=False),  # 0 for a suppressed message
    Column("at", BigInteger, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered|failed|gave_up|refused|suppressed
    Column("detail", String(500), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_deliveries_subscription", "subscription_id", "id"),
    Index("ix_deliveries_incident", "subscription_id", "incident_id"),
)

maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(64), nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("title", String(400), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_maintenance_windows_service", "service", "starts_at"),
    sqlite_autoincrement=True,  # Statuspage clients know a window by an id derived from this one
)

# What an operator writes about an incident on the status pages: investigating, identified,
# monitoring, resolved (the Statuspage words), in order.
status_updates = Table(
    "status_updates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), ForeignKey("incidents.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", String(5000), nullable=False),
    Column("author", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_status_updates_incident", "incident_id", "id"),
)

# Vendors' official status (signals/vendor_status.py): one source per service with the poller's
# bookkeeping (conditional-request validators, back-off), the latest state of each service, and
# every change of that state, which incident fusion and notifiers will claim. Times are epoch
# milliseconds.
vendor_sources = Table(
    "vendor_sources",
    metadata,
    Column("service", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # statuspage | feed
    Column("url", String(2000), nullable=False),
    Column("components", JSON, nullable=False),  # vendor component names; empty: the page
    Column("interval_seconds", Integer, nullable=False),
    Column("etag", String(500), nullable=True),
    Column("last_modified", String(100), nullable=True),
    Column("next_poll_at", BigInteger, nullable=False),  # also a poller's claim (a lease)
    Column("failures", Integer, nullable=False, default=0),  # consecutive, for the back-off
    Column("updated_at", BigInteger, nullable=False),
    Column("origin", String(8), nullable=False, server_default="admin"),  # as probes.origin
    Index("ix_vendor_sources_next_poll_at", "next_poll_at"),
)

vendor_states = Table(
    "vendor_states",
    metadata,
    Column("service", String(64), primary_key=True),
    Column("state", String(16), nullable=False),  # up | warn | down | maintenance | unknown
    Column("description", String(500), nullable=False),
    Column("incidents", JSON, nullable=False),  # VendorIncident.to_dict() each
    Column("fetched_at", BigInteger, nullable=True),  # the last successful read
    Column("stale", Boolean, nullable=False),
    Column("error", String(500), nullable=True),
)

vendor_events = Table(
    "vendor_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("from_state", String(16), nullable=True),  # None: the first state of a source
    Column("to_state", String(16), nullable=False),
    Column("stale", Boolean, nullable=False),
    Column("description", String(500), nullable=False),
    Column("error", String(500), nullable=True),
    Column("notified_at", BigInteger, nullable=True),
    Index("ix_vendor_events_service", "service", "id"),
)

# Social mentions (signals/social.py): distinct posts claiming a service down, per minute, and
# the mention detector's judgement of each minute that had mentions or alerted. Keyed by slug,
# like the vendor tables, so a post's count needs no lookup on the way in.
mention_counts = Table(
    "mention_counts",
    metadata,
    Column("service", String(64), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("count", Integer, nullable=False),
)

mention_expectations = Table(
    "mention_expectations",
    metadata,
    Column("service", String(64), primary_key=True),
    Column("minute", BigInteger, primary_key=True),
    Column("observed", Integer, nullable=False),
    Column("expected", Float, nullable=False),
    Column("score", Float, nullable=False),
    Column("alert", Boolean, nullable=False),
)

__all__ = [
    "api_keys",
    "counts",
    "deliveries",
    "detector_state",
    "expectations",
    "groups",
    "incident_events",
    "incidents",
    "maintenance_windows",
    "mention_counts",
    "mention_expectations",
    "metadata",
    "notification_queue",
    "probe_events",
    "probe_results",
    "probe_state",
    "probes",
    "problem_categories",
    "reports",
    "salts",
    "services",
    "settings_kv",
    "status_updates",
    "subscriptions",
    "vendor_events",
    "vendor_sources",
    "vendor_states",
]
