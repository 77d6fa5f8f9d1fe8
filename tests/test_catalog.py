"""The shipped catalog, and the parser that refuses a bad one whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from panne.catalog import (
    NAME_MAX,
    SLUG_MAX,
    CatalogError,
    default_catalog,
    load_file,
    parse,
    problem_lists_changed,
)

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
        ({"url": "ftp://acme"}, "services[0] (acme): url: must be an http:// or https:// URL"),
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


PROBE = {"id": "acme-home", "kind": "http", "target": "https://acme.example/", "timeout_ms": 3000}
PAGE = {"kind": "statuspage", "url": "https://status.acme.example", "components": ["API"]}


def test_the_shipped_catalog_defines_no_probe_nor_status_page() -> None:
    """The demo runs offline: a probe of a real site would fail and open incidents."""
    cat = default_catalog()
    assert not any(s.probes or s.status_page for s in cat.services.values())


def test_a_service_carries_its_probes_and_status_page_in_the_admin_api_shape() -> None:
    tcp = {"id": "acme-smtp", "service": "acme", "kind": "tcp", "target": "mx.acme.example:25"}
    cat = parse(doc(probes=[PROBE, tcp], status_page=PAGE))
    svc = cat.services["acme"]
    assert [(p.id, p.service, p.kind) for p in svc.probes] == [
        ("acme-home", "acme", "http"),
        ("acme-smtp", "acme", "tcp"),
    ]
    assert svc.probes[0].timeout_ms == 3000 and svc.probes[0].interval_seconds == 60.0
    assert svc.status_page is not None
    assert (svc.status_page.service, svc.status_page.components) == ("acme", ("API",))
    assert svc.status_page.interval_seconds == 120
    written = cat.to_dict()["services"][0]
    assert written["probes"][0] == {**PROBE, "interval_seconds": 60.0, "retries": 0}
    assert written["status_page"] == {**PAGE, "interval_seconds": 120}
    assert parse(cat.to_dict()) == cat
    assert "probes" not in parse(doc()).to_dict()["services"][0]  # none: no key written


@pytest.mark.parametrize(
    ("service", "message"),
    [
        (
            {"probes": [{**PROBE, "interval_seconds": 5}]},
            "services[0] (acme): probe 'acme-home': interval_seconds: must be at least 10 (got 5)",
        ),
        (
            {"probes": [{**PROBE, "timeout_ms": 50}]},
            "services[0] (acme): probe 'acme-home': timeout_ms: must be from 100 to 60000",
        ),
        (
            {"probes": [{**PROBE, "intervall": 60}]},
            "services[0] (acme): probe 'acme-home': unknown field 'intervall'",
        ),
        (
            {"probes": [{**PROBE, "kind": "ftp"}]},
            "services[0] (acme): probe 'acme-home': kind: must be one of http, tcp, dns, tls",
        ),
        ({"probes": [{"kind": "http"}]}, "services[0] (acme): probe '?': id is required"),
        ({"probes": ["acme-home"]}, "services[0] (acme): probes[0]: must be an object"),
        ({"probes": PROBE}, "services[0] (acme): probes must be a list of probe definitions"),
        (
            {"probes": [{**PROBE, "service": "other"}]},
            "services[0] (acme): probes[0]: service: must be this service ('acme') or left out",
        ),
        (
            {"probes": [PROBE, {**PROBE, "target": "https://acme.example/b"}]},
            "services[0] (acme): probe 'acme-home': id: duplicate probe id",
        ),
        (
            {"status_page": {**PAGE, "url": "ftp://status.acme.example"}},
            "services[0] (acme): status_page: url: must be an http or https URL with a host",
        ),
        (
            {"status_page": {**PAGE, "interval_seconds": 5}},
            "services[0] (acme): status_page: interval_seconds: must be between 30 and 86400",
        ),
        (
            {"status_page": {**PAGE, "colour": "red"}},
            "services[0] (acme): status_page: unknown field 'colour'",
        ),
        ({"status_page": {"url": PAGE["url"]}}, "services[0] (acme): status_page: kind: required"),
        (
            {"status_page": "https://x.example"},
            "services[0] (acme): status_page: must be an object",
        ),
        (
            {"probe": [PROBE]},
            "services[0] (acme): unknown key 'probe' (a service has slug, name, group, url,"
            " aliases, problems, probes, status_page)",
        ),
    ],
)
def test_bad_probes_and_status_pages_are_named_by_service_and_field(
    service: dict[str, Any], message: str
) -> None:
    with pytest.raises(CatalogError) as err:
        parse(doc(**service))
    assert str(err.value).startswith(message)


def test_a_probe_id_names_one_probe_across_services() -> None:
    d = doc(probes=[PROBE])
    d["services"].append({**d["services"][0], "slug": "acme-2", "name": "Acme 2"})
    with pytest.raises(CatalogError) as err:
        parse(d)
    assert str(err.value) == (
        "services[1] (acme-2): probe 'acme-home': id: duplicate probe id (also in 'acme')"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://acme.example/a b", "contains a space (U+0020;"),
        ("https://acme example", "contains a space (U+0020;"),
        ("https://acme.example/\u00a0home", "contains a space (U+00A0;"),
        ("https://acme.example/\x00", "contains a control character (U+0000)"),
        ("https://", "must name a host"),
    ],
)
def test_a_service_url_is_checked_as_a_webhook_url_is_and_has_no_whitespace(
    url: str, message: str
) -> None:
    with pytest.raises(CatalogError) as err:
        parse(doc(url=url))
    assert str(err.value).startswith(f"services[0] (acme): url: {message}")


def test_slug_and_label_limits_are_the_stored_ones_and_said() -> None:
    """A slug is refused at SLUG_MAX (64), in words that say 64; a problem's label at
    NAME_MAX, as a service's name."""
    assert parse(doc(slug="a" * SLUG_MAX)).services["a" * SLUG_MAX]
    for too_long in ("a" * (SLUG_MAX + 1), "a" * (NAME_MAX + 1)):
        with pytest.raises(CatalogError) as err:
            parse(doc(slug=too_long))
        assert str(err.value) == f"services[0]: 'slug' is longer than {SLUG_MAX} characters"
    with pytest.raises(CatalogError) as err:
        parse({**doc(), "groups": [{"slug": "g" * (SLUG_MAX + 1), "name": "G"}]})
    assert str(err.value) == f"groups[0]: 'slug' is longer than {SLUG_MAX} characters"
    long_slug = {**doc(), "problems": {"p" * (SLUG_MAX + 1): {"en": "P"}, "login": {"en": "L"}}}
    with pytest.raises(CatalogError) as err:
        parse(long_slug)
    assert str(err.value) == f"problems: slug {'p' * 24!r}… is longer than {SLUG_MAX} characters"
    fits = {"en": "L" * NAME_MAX, "fr": "Connexion"}
    assert parse({**doc(), "problems": {"login": fits}}).problems["login"].names == fits
    with pytest.raises(CatalogError) as err:
        parse({**doc(), "problems": {"login": {"en": "Login", "fr": "C" * (NAME_MAX + 1)}}})
    assert str(err.value) == f"problems.login: label 'fr' is longer than {NAME_MAX} characters"


def test_a_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cat.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc()).encode())
    assert load_file(path) == parse(doc())


def test_problem_lists_changed_names_the_services_whose_list_an_import_changes() -> None:
    before = parse(doc())
    d = doc(problems=["login", "app"])
    d["problems"]["app"] = {"en": "App"}
    d["services"].append({"slug": "new", "name": "New", "url": "https://new.example"})
    after = parse(d)
    assert problem_lists_changed(before, after) == ["acme"]  # "new" is added, not changed
    assert problem_lists_changed(after, after) == []
    renamed = parse(doc(name="Acme Renamed"))
    assert problem_lists_changed(before, renamed) == []
