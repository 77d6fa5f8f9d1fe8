"""API keys (stored only as hashes) and the daily salts of reporter fingerprints."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from panne.store.schema import api_keys, salts, settings_kv

KEY_PREFIX = "pk_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    trusted: bool
    created_ms: int
    revoked: bool


def _hash(key: str) -> str:
    # Keys are 32 random bytes, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def create(engine: Engine, name: str, *, trusted: bool, now_ms: int) -> tuple[ApiKey, str]:
    """Make a key; the plain key is returned once and never stored."""
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
    return ApiKey(row.id, row.name, row.prefix, row.trusted, row.created_ms, row.revoked)


def list_keys(engine: Engine) -> list[ApiKey]:
    with engine.connect() as conn:
        rows = conn.execute(select(api_keys).order_by(api_keys.c.id)).all()
    return [ApiKey(r.id, r.name, r.prefix, r.trusted, r.created_ms, r.revoked) for r in rows]


def revoke(engine: Engine, key_id: int) -> bool:
    with engine.begin() as conn:
        done = conn.execute(
            api_keys.update().where(api_keys.c.id == key_id).values(revoked=True)
        ).rowcount
    return bool(done)


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
    return None if r is None else ApiKey(r.id, r.name, r.prefix, r.trusted, r.created_ms, r.revoked)


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
