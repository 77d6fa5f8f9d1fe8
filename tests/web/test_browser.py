"""The pages in a real browser (Debian's chromium through Playwright) against a real server with
a day of simulated traffic and the March 2024 Meta outage under way: what a person sees."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.web.conftest import Site

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(timezone_id="Europe/Paris", locale="en-GB")
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield p
    context.close()
    assert errors == []  # no script error, no resource refused by the policy


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/", "Is it down for everyone, or just me?"),
        ("/services/whatsapp", "User reports indicate"),
        ("/incidents", "Incident archive"),
        ("/map", "Live outage map"),
        ("/groups/meta", "Meta"),
    ],
)
def test_each_page_loads(outage_site: Site, page: Page, path: str, heading: str) -> None:
    page.goto(outage_site.url + path)
    expect(page.locator("h1")).to_contain_text(heading)
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_an_outage_headline_in_the_viewers_time_zone(outage_site: Site, page: Page) -> None:
    page.goto(outage_site.url + "/services/facebook")
    headline = page.locator(".headline h1")
    # Onset 15:10 UTC, shown in Paris time by the page script.
    expect(headline).to_contain_text(re.compile(r"problems at Facebook since 16:1\d"))
    expect(page.locator(".headline .badge")).to_have_text("Problems")
    expect(page.locator(".chart rect.hot").first).to_be_visible()  # the surge, above the band
    page.goto(outage_site.url + "/")
    expect(page.locator(".banner")).to_contain_text("Meta: ")
    page.locator(".banner a").first.click()
    expect(page.locator("h1")).to_contain_text("Meta: ")
    expect(page.locator("dl.facts")).to_contain_text("Detected")


def test_search_finds_a_service_by_name_or_alias(outage_site: Site, page: Page) -> None:
    page.goto(outage_site.url + "/")
    box = page.get_by_label("Find a service")
    box.fill("insta")
    visible = page.locator("#services li:visible")
    expect(visible).to_have_count(1)
    expect(visible).to_contain_text("Instagram")
    box.fill("zzzz")
    expect(page.locator(".none-found")).to_be_visible()
    box.fill("whatsapp")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/services/whatsapp$"))


CHARTED = """() => [...document.querySelectorAll('.chart rect title')]
    .reduce((sum, t) => sum + Number(t.textContent.split(':').pop().replace(/\\D/g, '')), 0)"""


def _charted(page: Page) -> int:
    """Reports drawn in the chart: the sum of the bars' counts (their tooltips)."""
    return int(page.evaluate(CHARTED))


def _hour_count(page: Page) -> int:
    text = page.locator('[data-count="hour"]').inner_text()
    return int(re.sub(r"\D", "", text.split(" report")[0]))


def test_the_report_button_counts_once_and_updates_the_page(outage_site: Site, page: Page) -> None:
    page.goto(outage_site.url + "/services/signal")
    before = _hour_count(page)
    charted = _charted(page)
    page.get_by_role("button", name="I have a problem with Signal").click()
    expect(page.locator(".feedback")).to_have_text("Please choose what is not working.")
    # By keyboard: focus a problem, choose it, go to the button, press it.
    page.get_by_label("Messaging").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".feedback")).to_have_text("Thank you: your report was counted.")
    expect(page.locator('[data-count="hour"]')).to_contain_text(f"{before + 1} report")
    # The chart is redrawn with the new report (its block may land after the headline's).
    for _ in range(50):
        if _charted(page) == charted + 1:
            break
        page.wait_for_timeout(100)
    assert _charted(page) == charted + 1
    button = page.get_by_role("button", name="I have a problem with Signal")
    expect(button).to_be_disabled()  # no double posting from an impatient second press
    page.wait_for_timeout(5200)
    button.click()
    expect(page.locator(".feedback")).to_contain_text("already reported Signal")
    expect(page.locator('[data-count="hour"]')).to_contain_text(f"{before + 1} report")


def test_french_text_and_dates_after_the_switch(outage_site: Site, page: Page) -> None:
    page.goto(outage_site.url + "/services/facebook")
    page.get_by_role("link", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator(".headline h1")).to_contain_text(
        "Les signalements des utilisateurs indiquent des problèmes chez Facebook depuis"
    )
    expect(page.get_by_role("button", name="J’ai un problème avec Facebook")).to_be_visible()
    page.locator(".incidents a").first.click()
    expect(page.locator("dl.facts")).to_contain_text("mars 2024")  # 5 mars 2024, in French
    expect(page.locator("dl.facts")).to_contain_text("Détecté")
    page.goto(outage_site.url + "/")  # the choice is remembered
    expect(page.locator("h1")).to_have_text("En panne pour tout le monde, ou juste pour moi ?")


def test_usable_on_a_phone_sized_screen(outage_site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        for path in ("/", "/incidents", "/map", "/services/facebook"):
            page.goto(outage_site.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, path  # nothing wider than the screen
        button = page.get_by_role("button", name=re.compile("I have a problem"))
        expect(button).to_be_visible()
    finally:
        context.close()
