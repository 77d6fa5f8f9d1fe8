"""Masking subscription URLs: real Apprise URL forms keep their channel readable and lose their
credentials; a signed webhook keeps its host and path."""

from __future__ import annotations

import pytest

from panne.notify.channels import apprise_url_ok
from panne.notify.redact import mask_url, scrub

TG_TOKEN = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

APPRISE = [
    # Telegram: the bot id and its token are the "host", the chat id the path
    (f"tgram://123456789:{TG_TOKEN}/987654321", "tgram://1234****/****", [TG_TOKEN, "987654321"]),
    # Slack webhook: three tokens; a short first one shows nothing at all
    (
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
        "slack://****/****/****",
        ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"],
    ),
    # Slack bot token and a channel (a URL fragment to a parser)
    (
        "slack://xoxb-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d/#general",
        "slack://xoxb****/#****",
        ["4ddbc191d40ee098cbaae6f3523ada2d"],
    ),
    (
        "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
        "discord://****/****",
        ["JHMHI8qBe7bk2ZwO5U711o3dV_js"],
    ),
    # Discord's own webhook address, which Apprise also accepts: every path segment goes
    (
        "https://discord.com/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
        "https://discord.com/****/****/****/****",
        ["JHMHI8qBe7bk2ZwO5U711o3dV_js"],
    ),
    ("mailtos://ops:Pa55w0rd!@gmail.com", "mailtos://****@gmail.com", ["Pa55w0rd!", "ops:"]),
    (
        "mailto://ops:Pa55w0rd@mail.example.com:587?to=oncall@example.org",
        "mailto://****@mail.example.com:587?to=****",
        ["Pa55w0rd", "oncall"],
    ),
    (
        "ntfys://ntfy.example.org/outages?token=tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2",
        "ntfys://ntfy.example.org/****?token=****",
        ["tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2", "outages"],
    ),
    ("ntfy://ops:s3cret@ntfy.sh/panne-alerts", "ntfy://****@ntfy.sh/****", ["s3cret", "alerts"]),
    # Pushbullet: the whole "host" is the access token, dot and all
    ("pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b", "pbul://o.gn****", ["gn5kj6nfhv736I7jC3cj3"]),
    # Apprise's own JSON: a header given in the query
    (
        "json://hooks.example.org/panne?-X-Token=abc123def",
        "json://hooks.example.org/****?-X-Token=****",
        ["abc123def"],
    ),
]


@pytest.mark.parametrize(("url", "masked", "hidden"), APPRISE, ids=lambda v: str(v)[:12])
def test_apprise_urls_keep_their_channel_and_lose_their_credentials(
    url: str, masked: str, hidden: list[str]
) -> None:
    assert apprise_url_ok(url)  # a form Apprise really takes
    assert mask_url(url) == masked
    for secret in hidden:
        assert secret not in masked


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://hooks.example.org/panne?key=s3cr3t", "https://hooks.example.org/panne?key=****"),
        (
            "https://user:pw@hooks.example.org:8443/a/b?key=s3cr3t&team=ops&flag#x",
            "https://****@hooks.example.org:8443/a/b?key=****&team=****&****#****",
        ),
        ("http://[2001:db8::1]:8080/hook", "http://[2001:db8::1]:8080/hook"),
        ("https://hooks.example.org/panne", "https://hooks.example.org/panne"),
    ],
)
def test_a_webhook_keeps_host_port_and_path(url: str, masked: str) -> None:
    assert mask_url(url, webhook=True) == masked


@pytest.mark.parametrize("url", ["", "no scheme at all", "http://[::1", "::::"])
def test_what_cannot_be_parsed_is_masked_whole(url: str) -> None:
    assert mask_url(url) == "****"


def test_a_host_name_is_kept_but_a_token_shaped_like_one_is_not() -> None:
    assert (
        mask_url("gotify://push.example.co.uk:8443/AbCdEf")
        == "gotify://push.example.co.uk:8443/****"
    )
    assert mask_url("gotify://10.0.0.5/AbCdEf") == "gotify://10.0.0.5/****"
    assert mask_url("gotify://localhost/AbCdEf") == "gotify://localhost/****"
    assert mask_url("prowl://1234567890abcdef1234567890abcdef12345678") == "prowl://1234****"


def test_scrub_hides_the_url_and_its_secrets_in_an_error() -> None:
    url = f"tgram://123456789:{TG_TOKEN}/987654321"
    said = f"Telegram refused {url}: bad token {TG_TOKEN}"
    assert scrub(said, url) == "Telegram refused tgram://1234****/****: bad token ****"
    hook = "https://u:hunter22@hooks.example.org/panne?key=s3cr3t-key"
    assert scrub(f"not an http(s) URL: {hook}", hook, webhook=True) == (
        "not an http(s) URL: https://****@hooks.example.org/panne?key=****"
    )
    assert scrub("HTTP 410: gone", hook, webhook=True) == "HTTP 410: gone"
    assert scrub("", hook) == ""
