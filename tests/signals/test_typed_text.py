"""What may be typed where panne connects, sends or links."""

from __future__ import annotations

import pytest

from panne.signals.typed_text import address_text_problem, control_character, http_url_problem


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("https://a.example/feed", None),
        ("a.example:443", None),
        ("https://a.example/a%20b", None),
        ("https://a.example/a b", "contains a space (U+0020; write it as %20 in a URL)"),
        ("https://a.example/\u00a0", "contains a space (U+00A0; write it as %20 in a URL)"),
        ("https://a.example/\t", "contains a control character (U+0009)"),
        ("a.example\x00", "contains a control character (U+0000)"),
    ],
)
def test_an_address_has_no_space_or_control_character(text: str, problem: str | None) -> None:
    assert address_text_problem(text) == problem


def test_control_characters_are_named_by_code_point() -> None:
    assert control_character("ok é 日本") is None
    assert control_character("a\x7fb") == "U+007F"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.example/x y", None),  # httpx encodes it: stored webhooks keep working
        ("ftp://a.example/", "must be an http:// or https:// URL"),
        ("https://", "must name a host"),
        ("http://a.example:99999/", "not a valid URL"),
        ("http://bad_host-.example/", "'bad_host-.example' is not a host name or an IP address"),
        ("http://[::1]:8080/", None),
    ],
)
def test_an_http_url_names_a_host_and_a_port(url: str, problem: str | None) -> None:
    got = http_url_problem(url)
    assert got == problem if problem is None else got is not None and got.startswith(problem)
