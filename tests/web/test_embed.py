"""The report widget over real HTTP: its page answers in a frame only for the allowed sites
(``frame-ancestors``), in the host page's language, with the service page's report form; its
loader script; the setting checked at start-up; and the report API it uses stays JSON-only."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from tests.conftest import LiveServer
from tests.web.conftest import Site

from panne.config import ConfigError, load
from panne.web.pages import CSP

MakeServer = Callable[..., LiveServer]


def _directives(csp: str) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in csp.split("; ")}


def test_by_default_the_widget_answers_but_no_site_may_frame_it(outage_site: Site) -> None:
    r = httpx.get(outage_site.url + "/embed/facebook")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    policy = _directives(r.headers["content-security-policy"])
    assert policy["frame-ancestors"] == "'none'"
    assert policy == _directives(CSP)  # otherwise exactly the pages' strict policy
    assert r.headers["x-content-type-options"] == "nosniff"
    page = r.text
    assert '<html lang="en">' in page and r.headers["content-language"] == "en"
    assert 'class="badge state-outage">Problems</span>' in page  # the live Meta outage
    assert 'data-report="facebook"' in page and "I have a problem with Facebook" in page
    assert 'value="login"' in page  # the service's problem choices
    assert "Thank you: your report was counted." in page  # the script's feedback messages
    assert 'href="/services/facebook" target="_blank" rel="noopener"' in page
    assert 'class="top"' not in page and 'name="csrf"' not in page  # no chrome, no cookie form
    assert " style=" not in page  # the policy would block inline styles


@pytest.mark.parametrize(
    ("origins", "ancestors"),
    [
        (["https://bank.example", "http://127.0.0.1:8123"], "https://bank.example http://127.0.0.1:8123"),
        (["https://*.games.example"], "https://*.games.example"),
        (["https://bank.example", "*"], "*"),
    ],
)  # fmt: skip
def test_only_the_allowed_origins_may_frame_the_widget(
    make_server: MakeServer, origins: list[str], ancestors: str
) -> None:
    srv = make_server(embed_origins=origins)
    r = httpx.get(srv.url + "/embed/signal")
    assert r.status_code == 200
    policy = _directives(r.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ancestors
    assert {k: v for k, v in policy.items() if k != "frame-ancestors"} == {
        k: v for k, v in _directives(CSP).items() if k != "frame-ancestors"
    }
    assert "No problems" in r.text
    page = httpx.get(srv.url + "/services/signal")  # the pages themselves stay unframeable
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_the_widget_speaks_the_host_pages_language(outage_site: Site) -> None:
    fr = httpx.get(outage_site.url + "/embed/facebook?lang=fr")
    assert '<html lang="fr">' in fr.text and fr.headers["content-language"] == "fr"
    assert "J’ai un problème avec Facebook" in fr.text and "Voir l’état en direct" in fr.text
    lang = "content-language"
    assert httpx.get(outage_site.url + "/embed/facebook?lang=fr-CA").headers[lang] == "fr"
    unknown = httpx.get(  # not a language of panne: the usual negotiation
        outage_site.url + "/embed/facebook?lang=de", headers={"accept-language": "fr"}
    )
    assert unknown.headers[lang] == "fr"
    assert httpx.get(outage_site.url + "/embed/facebook?lang=de").headers[lang] == "en"


def test_the_live_state_block_alone(outage_site: Site) -> None:
    r = httpx.get(outage_site.url + "/embed/facebook?lang=fr&live=live")
    assert r.status_code == 200
    assert "embed-state state-outage" in r.text and "<html" not in r.text
    assert "<form" not in r.text


def test_an_unknown_service_is_a_404_page(outage_site: Site) -> None:
    r = httpx.get(outage_site.url + "/embed/no-such-service")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "no-such-service" in r.text


def test_the_loader_script(outage_site: Site) -> None:
    r = httpx.get(outage_site.url + "/embed.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "event.origin !== origin" in r.text and "event.source !== frame.contentWindow" in r.text
    frame = httpx.get(outage_site.url + "/static/embed_frame.js")
    assert frame.status_code == 200 and '{ panne: "height", value: height }' in frame.text


def test_a_report_from_the_widget_is_a_json_report_and_nothing_else(outage_site: Site) -> None:
    url = outage_site.url + "/api/v1/reports"
    ok = httpx.post(url, json={"service": "messenger", "problem": "login"})
    assert ok.status_code == 202
    # What another site's own form could send is refused, and no CORS grant lets its script in.
    form = httpx.post(url, data={"service": "messenger", "problem": "login"})
    assert form.status_code == 415
    preflight = httpx.options(
        url,
        headers={
            "origin": "https://bank.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in ok.headers


@pytest.mark.parametrize(
    "value",
    ["ftp://x/path", "https://bank.example/", "bank.example", "https://bank.example:99999",
     "https://a.example; script-src *", "'self'"],
)  # fmt: skip
def test_a_bad_origin_stops_start_up_with_one_line(value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(environ={"PANNE_EMBED_ORIGINS": value})
    assert str(err.value).startswith("embed_origins: ")
    assert "\n" not in str(err.value)


def test_origins_from_the_environment() -> None:
    s = load(environ={"PANNE_EMBED_ORIGINS": "https://bank.example, http://127.0.0.1:8000,*"})
    assert s.embed_origins == ("https://bank.example", "http://127.0.0.1:8000", "*")
    assert load(environ={}).embed_origins == ()
