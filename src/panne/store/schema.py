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

__all__ = [
    "api_keys",
    "counts",
    "detector_state",
    "expectations",
    "groups",
    "incident_events",
    "incidents",
    "metadata",
    "problem_categories",
    "reports",
    "salts",
    "services",
    "settings_kv",
]
