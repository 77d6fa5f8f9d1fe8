"""The report widget in a real browser, on another site: a host page served by a second loopback
server (another origin) includes embed.js from panne; a person reports through the iframe and
the report is counted, and a site not on the allow-list gets no widget at all."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]
MakeServer = Callable[..., LiveServer]
COUNTS = "/api/v1/services/signal/counts?step=1h&from=2024-03-05T00:00:00Z&to=2024-03-06T00:00:00Z"


class HostSite:
    """Another site on loopback (another port, so another origin) whose page shows the widget."""

    def __init__(self) -> None:
        self.panne_url = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
                    "<title>Bank</title></head><body><h1>Bank help</h1>"
                    f'<script src="{site.panne_url}/embed.js" data-service="signal" async>'
                    "</script></body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host() -> Iterator[HostSite]:
    site = HostSite()
    yield site
    site.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-GB")
    yield context.new_page()
    context.close()


def _errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def console(m: ConsoleMessage) -> None:
        if m.type == "error":
            errors.append(m.text)

    page.on("console", console)
    return errors


def _total(panne: LiveServer) -> int:
    return int(httpx.get(panne.url + COUNTS).json()["total"])


def test_a_report_from_the_widget_on_an_allowed_site_is_counted(
    make_server: MakeServer, host: HostSite, page: Page
) -> None:
    panne = make_server(embed_origins=[host.origin])
    host.panne_url = panne.url
    before = _total(panne)
    errors = _errors(page)
    page.goto(host.origin + "/")
    iframe = page.locator("iframe[data-panne=signal]")
    expect(iframe).to_have_attribute("src", f"{panne.url}/embed/signal?lang=en")
    widget = page.frame_locator("iframe[data-panne=signal]")
    expect(widget.locator(".badge")).to_have_text("No problems")
    # The widget told the host page its height, and embed.js sized the frame with it.
    page.wait_for_function(
        "() => document.querySelector('iframe').style.height.endsWith('px')", timeout=10_000
    )
    widget.locator("button.report-button").click()
    expect(widget.locator(".feedback")).to_have_text("Please choose what is not working.")
    widget.get_by_label("Login").check()
    widget.locator("button.report-button").click()
    expect(widget.locator(".feedback")).to_have_text("Thank you: your report was counted.")
    assert _total(panne) == before + 1
    link = widget.get_by_role("link", name="See live status")
    expect(link).to_have_attribute("target", "_blank")
    assert errors == []  # nothing refused by either policy, no script error


def test_a_site_not_on_the_allow_list_gets_no_widget(
    make_server: MakeServer, host: HostSite, page: Page
) -> None:
    panne = make_server(embed_origins=["https://bank.example"])
    host.panne_url = panne.url
    errors = _errors(page)
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text):
        page.goto(host.origin + "/")
    expect(page.locator("iframe[data-panne=signal]")).to_have_count(1)
    widget = page.frame_locator("iframe[data-panne=signal]")
    expect(widget.locator("button")).to_have_count(0)
    assert any("frame-ancestors" in e for e in errors)
