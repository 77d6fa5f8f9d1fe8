"""The shipped catalog, and the parser that refuses a bad one whole."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from panne.catalog import CatalogError, default_catalog, parse

REQUIRED = [
    "facebook",
    "instagram",
    "threads",
    "whatsapp",
    "messenger",
    "x",
    "youtube",
    "gmail",
    "tiktok",
    "snapchat",
    "discord",
    "telegram",
    "signal",
    "netflix",
    "spotify",
    "twitch",
    "reddit",
    "linkedin",
    "outlook",
    "teams",
    "slack",
    "zoom",
    "aws",
    "azure",
    "google-cloud",
    "cloudflare",
    "github",
    "steam",
    "playstation-network",
    "xbox-live",
    "chatgpt",
    "icloud",
    "amazon",
    "paypal",
    "roblox",
    "fortnite",
    "bluesky",
    "mastodon",
]
DEFAULT = ["login", "website", "app", "photos-videos", "messaging", "notifications",
           "server-connection", "other"]  # fmt: skip


def test_shipped_catalog() -> None:
    cat = default_catalog()
    assert len(cat.services) >= 60
    assert set(REQUIRED) <= set(cat.services)
    assert list(cat.default_problems) == DEFAULT
    meta = {s.slug for s in cat.services.values() if s.group == "meta"}
    assert {"facebook", "instagram", "threads", "whatsapp", "messenger"} <= meta
    assert all(len(s.aliases) >= 2 for s in cat.services.values())
    assert all({"en", "fr"} <= set(p.names) for p in cat.problems.values())
    assert "فيسبوك" in cat.services["facebook"].aliases
    assert "zap" in cat.services["whatsapp"].aliases
    assert cat.services["aws"].problems != cat.default_problems  # a cloud has its own list
    assert {s.slug for s in cat.siblings("facebook")} >= {"instagram", "whatsapp"}


def doc(**service: Any) -> dict[str, Any]:
    base = {"slug": "acme", "name": "Acme", "url": "https://acme.example", "aliases": ["a"]}
    return {
        "problems": {"login": {"en": "Login", "fr": "Connexion"}},
        "default_problems": ["login"],
        "groups": [{"slug": "acme-corp", "name": "Acme Corp"}],
        "services": [{**base, **service}],
    }


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ({"group": "nope"}, "services[0] (acme): unknown group 'nope'"),
        ({"problems": ["atm"]}, "services[0] (acme): unknown problem 'atm'"),
        ({"slug": "Acme Inc"}, "services[0]: slug 'Acme Inc' must be lowercase"),
        ({"url": "ftp://acme"}, "url must start with http"),
        ({"name": ""}, "'name' must be a non-empty string"),
        ({"problems": [{"a": 1}]}, "services[0] (acme): unknown problem {'a': 1}"),
        ({"problems": "login"}, "services[0] (acme): problems must be a non-empty list"),
        ({"name": "n" * 201}, "'name' is longer than 200 characters"),
        ({"url": "https://a.example/" + "u" * 1990}, "'url' is longer than 2000 characters"),
        ({"aliases": ["a" * 201]}, "aliases must be a list of strings of 1 to 200"),
    ],
)
def test_bad_entries_are_named(service: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError) as err:
        parse(doc(**service))
    assert message in str(err.value)


def test_duplicate_service_is_refused() -> None:
    d = doc()
    d["services"].append(dict(d["services"][0]))
    with pytest.raises(CatalogError, match="duplicate service"):
        parse(d)


def test_default_catalog_round_trips() -> None:
    cat = default_catalog()
    assert parse(cat.to_dict()) == cat


slugs = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)


@given(st.lists(slugs, min_size=1, max_size=8, unique=True), st.booleans())
def test_any_valid_document_round_trips(names: list[str], override: bool) -> None:
    d = {
        "problems": {"login": {"en": "Login"}, "app": {"en": "App"}},
        "default_problems": ["login", "app"],
        "groups": [],
        "services": [
            {
                "slug": n,
                "name": n.title(),
                "url": f"https://{n}.example",
                "aliases": [n + "x"],
                **({"problems": ["app"]} if override else {}),
            }
            for n in names
        ],
    }
    cat = parse(d)
    assert parse(cat.to_dict()) == cat


def test_bad_top_level_entries_are_named() -> None:
    d = doc()
    with pytest.raises(CatalogError, match=r"default_problems: unknown problem \['login'\]"):
        parse({**d, "default_problems": [["login"]]})
    with pytest.raises(CatalogError, match="'groups' must be a list"):
        parse({**d, "groups": 5})
    with pytest.raises(CatalogError, match=r"groups\[0\]: 'name' is longer than 200"):
        parse({**d, "groups": [{"slug": "acme-corp", "name": "g" * 201}]})
