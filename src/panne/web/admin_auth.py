"""The admin routes' authentication, shared by every admin router (api_admin.py, api_probes.py,
api_vendors.py).

``Authorization: Bearer KEY`` with a live key created with ``--trusted``: a key that only
submits reports must not redirect alerts or point probes anywhere. 401 without a key, 403 with
an unknown, revoked or untrusted one.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Header

from panne.node import Node
from panne.store import keys
from panne.store.keys import ApiKey
from panne.web.problems import ProblemError


def admin_key_dependency(node: Node) -> Callable[..., ApiKey]:
    """A FastAPI dependency answering the trusted key of the request, or refusing it."""

    def admin_key(authorization: str | None = Header(None)) -> ApiKey:
        scheme, _, plain = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not plain.strip():
            raise ProblemError(
                401,
                "admin endpoints need Authorization: Bearer KEY",
                title="Unauthorized",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = keys.verify(node.engine, plain.strip())
        if key is None:
            raise ProblemError(403, "unknown or revoked API key", title="Forbidden")
        if not key.trusted:
            raise ProblemError(
                403, "admin endpoints need a key created with --trusted", title="Forbidden"
            )
        return key

    return admin_key


def admin_router(node: Node, prefix: str) -> APIRouter:
    """A router under ``prefix`` whose every route needs a trusted key."""
    return APIRouter(
        prefix=prefix, tags=["admin"], dependencies=[Depends(admin_key_dependency(node))]
    )
