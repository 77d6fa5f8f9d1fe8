"""Durable state: the schema, its migrations and the queries, on SQLite or PostgreSQL.

Everything dialect-specific lives in :mod:`panne.store.engine` (connection set-up) and
:mod:`panne.store.upsert` (the one statement whose syntax differs); the rest is plain SQLAlchemy
Core that both backends run unchanged, checked by one contract suite (tests/store/).
"""
