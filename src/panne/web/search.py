"""Finding a service by what people type: names, slugs and aliases, folded alike.

The home page filters as you type in the page script (``fold`` in ``static/app.js``) against
the terms folded here (each card's ``data-search``), and the server answers ``?q=`` without
script; both must fold the same way, or a query found by one is missed by the other.
"""

from __future__ import annotations

import unicodedata

from panne.catalog import Catalog, Service


def fold(text: str) -> str:
    """Lowercase without marks: "Télégram" finds "telegram", and a voiced kana (ブ, which
    decomposes to フ and U+3099) or an Arabic hamza matches however it was typed. Every
    combining mark goes (Unicode category M, the script's ``/\\p{M}/gu``), not only the Latin
    accents of U+0300-U+036F."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.category(c).startswith("M")).strip()


def search_terms(svc: Service) -> str:
    return " ".join(fold(t) for t in (svc.name, svc.slug, *svc.aliases))


def matches(svc: Service, query: str) -> bool:
    q = fold(query)
    return not q or q in search_terms(svc)


def exact(catalog: Catalog, query: str) -> Service | None:
    """The one service whose name, slug or an alias is exactly the query (folded), if any:
    "steam" is Steam even though Microsoft Teams' alias "msteams" contains it."""
    q = fold(query)
    if not q:
        return None
    found = {
        s.slug: s
        for s in catalog.services.values()
        if s.id is not None and q in {fold(t) for t in (s.name, s.slug, *s.aliases)}
    }
    return next(iter(found.values())) if len(found) == 1 else None
