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
    Column("id", String(26), primary_key=True),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("problem", String(64), nullable=False),
    Column("country", String(2), nullable=False),
    Column("occurred_ms", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("reporter", String(32), nullable=True),
    Column("counted", Boolean, nullable=False),
    Column("source", String(16), nullable=False),
    Column("api_key_id", Integer, ForeignKey("api_keys.id"), nullable=True),
    Index("ix_reports_received_ms", "received_ms"),
    Index("ix_reports_service_occurred", "service_id", "occurred_ms"),
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

__all__ = [
    "api_keys",
    "counts",
    "groups",
    "metadata",
    "problem_categories",
    "reports",
    "salts",
    "services",
    "settings_kv",
]
