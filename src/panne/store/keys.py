"""API keys (stored only as hashes) and the daily salts of reporter fingerprints."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Engine, Row, String, select
from sqlalchemy.exc import IntegrityError

from panne.store.schema import api_keys, salts, settings_kv

KEY_PREFIX = "pk_"

assert isinstance(api_keys.c.name.type, String) and api_keys.c.name.type.length is not None
NAME_MAX_CHARS: int = api_keys.c.name.type.length  # the column's, so that both databases agree


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    trusted: bool
    created_ms: int
    revoked: bool


def _key(row: Row[Any]) -> ApiKey:
    return ApiKey(row.id, row.name, row.prefix, row.trusted, row.created_ms, row.revoked)


def name_refusal(name: str) -> str | None:
    """Why ``name`` cannot name a key, or None. One rule on both databases: PostgreSQL refuses
    a name longer than the column with an error, SQLite would store it; and a blank name, or
    one with a newline or other control character, cannot be told apart or breaks the one
    line per key of ``panne apikey list``."""
    if not name.strip():
        return "an API key name cannot be empty or only spaces"
    if not name.isprintable():
        return (
            "an API key name cannot hold a newline, a tab or another control character "
            f"(got {name!r})"
        )
    if len(name) > NAME_MAX_CHARS:
        return f"an API key name is at most {NAME_MAX_CHARS} characters (got {len(name)})"
    return None


def _hash(key: str) -> str:
    # Keys are 32 random bytes, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def create(engine: Engine, name: str, *, trusted: bool, now_ms: int) -> tuple[ApiKey, str]:
    """Make a key; the plain key is returned once and never stored. A name that
    :func:`name_refusal` refuses is a ValueError."""
    refused = name_refusal(name)
    if refused is not None:
        raise ValueError(refused)
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    prefix = plain[:10]
    with engine.begin() as conn:
        key_id = conn.execute(
            api_keys.insert()
            .values(
                name=name,
                prefix=prefix,
                key_hash=_hash(plain),
                trusted=trusted,
                created_ms=now_ms,
                revoked=False,
            )
            .returning(api_keys.c.id)
        ).scalar_one()
    return ApiKey(key_id, name, prefix, trusted, now_ms, False), plain


def verify(engine: Engine, plain: str) -> ApiKey | None:
    """The key's record if ``plain`` is a live key, else None."""
    with engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.key_hash == _hash(plain))).first()
    if row is None or row.revoked:
        return None
    return _key(row)


def list_keys(engine: Engine) -> list[ApiKey]:
    with engine.connect() as conn:
        rows = conn.execute(select(api_keys).order_by(api_keys.c.id)).all()
    return [_key(r) for r in rows]


def revoke(engine: Engine, key_id: int) -> ApiKey | None:
    """Revoke a key. Returns it as it was, so that the caller can tell "revoked" from
    "already revoked" (``revoked`` true), or None when there is no such key. The UPDATE only
    touches a live key: of two revocations at once, one is told it was already done."""
    with engine.begin() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None:
            return None
        done = conn.execute(
            api_keys.update()
            .where(api_keys.c.id == key_id, api_keys.c.revoked.is_(False))
            .values(revoked=True)
        ).rowcount
    return replace(_key(row), revoked=not done)


def salt_for_day(engine: Engine, day: int) -> bytes:
    """Today's salt, made on first use by whichever process gets there first; salts older
    than yesterday are deleted so old fingerprints can never be recomputed."""
    with engine.begin() as conn:
        conn.execute(salts.delete().where(salts.c.day < day - 1))
        found = conn.execute(select(salts.c.salt).where(salts.c.day == day)).scalar()
        if found is not None:
            return bytes(found)
    try:
        with engine.begin() as conn:
            conn.execute(salts.insert().values(day=day, salt=secrets.token_bytes(32)))
    except IntegrityError:
        pass  # another process made it first
    with engine.connect() as conn:
        return bytes(conn.execute(select(salts.c.salt).where(salts.c.day == day)).scalar_one())


def get(engine: Engine, key_id: int) -> ApiKey | None:
    with engine.connect() as conn:
        r = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    return None if r is None else _key(r)


def session_secret(engine: Engine) -> bytes:
    """The key that signs admin page sessions, made on first use by whichever process gets
    there first, so every web process of a deployment accepts the same cookies."""
    name = "admin_session_secret"
    with engine.connect() as conn:
        found = conn.execute(select(settings_kv.c.value).where(settings_kv.c.key == name)).scalar()
    if found is None:
        try:
            with engine.begin() as conn:
                conn.execute(settings_kv.insert().values(key=name, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another process made it first
        with engine.connect() as conn:
            found = conn.execute(
                select(settings_kv.c.value).where(settings_kv.c.key == name)
            ).scalar_one()
    return bytes.fromhex(str(found))
