"""Sessions of the admin pages: a person signs in with a trusted API key once, and the browser
keeps a signed, expiring cookie instead of the key.

The cookie is ``key id . expiry . HMAC`` under a secret kept in the database (every web process
of a deployment shares it); each request checks the signature, the expiry and that the key is
still live and trusted, so revoking the key ends its sessions. Forms carry a token derived from
the cookie (another HMAC), and the cookie is ``SameSite=Strict``: another site can neither read
the token nor make the browser send the cookie.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import Engine

from panne.store import keys
from panne.store.keys import ApiKey

COOKIE = "panne_admin"
SESSION_SECONDS = 12 * 3600


def _sign(engine: Engine, text: str) -> str:
    return hmac.new(keys.session_secret(engine), text.encode(), hashlib.sha256).hexdigest()


def issue(engine: Engine, key: ApiKey, now: float) -> str:
    body = f"{key.id}.{int(now) + SESSION_SECONDS}"
    return f"{body}.{_sign(engine, body)}"


def check(engine: Engine, token: str | None, now: float) -> ApiKey | None:
    """The live, trusted key a session cookie stands for, or None."""
    if not token or token.count(".") != 2:
        return None
    key_id, expires, signature = token.split(".")
    if not same_secret(signature, _sign(engine, f"{key_id}.{expires}")):
        return None
    if not (key_id.isdigit() and expires.isdigit()) or int(expires) < now:
        return None
    key = keys.get(engine, int(key_id))
    return key if key is not None and key.trusted and not key.revoked else None


def form_token(engine: Engine, session: str) -> str:
    return _sign(engine, f"form:{session}")


def form_ok(engine: Engine, session: str, token: str) -> bool:
    return same_secret(form_token(engine, session), token)


def same_secret(known: str, given: str) -> bool:
    """A comparison in constant time that takes any text a client sends: ``compare_digest``
    refuses ``str`` outside ASCII with a TypeError, which was a 500 for a forged token."""
    return hmac.compare_digest(
        known.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )
