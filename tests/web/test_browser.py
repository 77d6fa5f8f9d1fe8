"""The pages in a real browser (Debian's chromium through Playwright) against a real server with
a day of simulated traffic and the March 2024 Meta outage under way: what a person sees."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from tests.web.conftest import Site

from panne.store import incidents as incident_store
from panne.store import keys
from panne.store import status_updates as update_store

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


@pytest.mark.parametrize(
    ("typed", "found"),
    [("フェイスブック", "Facebook"), ("インスタグラム", "Instagram"), ("إنستغرام", "Instagram")],
)
def test_search_as_you_type_folds_marks_as_the_server_does(
    outage_site: Site, page: Page, typed: str, found: str
) -> None:
    # Voiced kana and the hamza decompose into marks outside U+0300-U+036F.
    page.goto(outage_site.url + "/")
    page.get_by_label("Find a service").fill(typed)
    visible = page.locator("#services li:visible")
    expect(visible).to_have_count(1)
    expect(visible).to_contain_text(found)


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
    button = page.get_by_role("button", name="I have a problem with Signal")
    expect(button).to_be_focused()  # the keyboard user is still where they were
    page.keyboard.press("Enter")  # an impatient second press sends nothing
    expect(button).to_be_focused()
    # The chart is redrawn with the new report (its block may land after the headline's).
    for _ in range(50):
        if _charted(page) == charted + 1:
            break
        page.wait_for_timeout(100)
    assert _charted(page) == charted + 1
    expect(button).to_be_disabled()  # aria-disabled: no double posting, focus kept
    expect(page.locator('[data-count="hour"]')).to_contain_text(f"{before + 1} report")
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


def _live_round(page: Page, block: str) -> None:
    """Move the page's fake clock past one refresh and wait for the block's answer."""
    with page.expect_response(lambda r: f"live={block}" in r.url):
        page.clock.run_for(21_000)
    page.wait_for_timeout(200)  # the answer's text read and placed


def test_the_live_refresh_leaves_keyboard_focus_where_it_is(outage_site: Site, page: Page) -> None:
    page.clock.install()
    page.goto(outage_site.url + "/services/facebook")
    page.get_by_role("link", name="Full-size map").focus()  # inside the refreshed block
    page.evaluate("window.focused = document.activeElement")
    _live_round(page, "live")
    assert page.evaluate("document.activeElement === window.focused && focused.isConnected")
    # Once focus has left the block, the next round refreshes it.
    page.get_by_role("link", name="Français").focus()
    _live_round(page, "live")
    for _ in range(30):
        if not page.evaluate("window.focused.isConnected"):
            break
        page.wait_for_timeout(100)
    assert not page.evaluate("window.focused.isConnected")


def test_a_change_of_status_is_announced_once_not_every_refresh(
    outage_site: Site, page: Page
) -> None:
    page.clock.install()
    page.goto(outage_site.url + "/services/facebook")
    announce = page.locator("#announce")
    expect(announce).to_have_text("")
    assert page.locator(".headline[aria-live]").count() == 0  # counts change every round
    # As if the page had been opened before the outage: the refresh brings the news.
    page.evaluate("document.querySelector('[data-state]').dataset.state = 'normal'")
    _live_round(page, "headline")
    expect(announce).to_contain_text("User reports indicate problems at Facebook since 16:1")
    page.evaluate("document.getElementById('announce').textContent = ''")
    _live_round(page, "headline")
    expect(announce).to_have_text("")  # same status: nothing said again


TALLEST = """() => [...document.querySelectorAll('.chart rect')]
    .sort((a, b) => b.height.baseVal.value - a.height.baseVal.value)[0].textContent"""


def test_chart_tooltips_are_in_the_viewers_time_zone(outage_site: Site, page: Page) -> None:
    page.goto(outage_site.url + "/services/facebook")
    titles = page.eval_on_selector_all(".chart rect title", "ts => ts.map(t => t.textContent)")
    assert titles and all(re.fullmatch(r"\d\d:\d\d: [\d,]+", t) for t in titles)
    assert page.evaluate(TALLEST).startswith("16:15: ")  # 15:15 UTC, in Paris
    assert len(titles) == len({t.split(": ")[0] for t in titles})  # one bar per bucket


LABELS = """() => [...document.querySelectorAll('.chart text')]
    .filter(t => getComputedStyle(t).display !== 'none')
    .map(t => { const r = t.getBoundingClientRect(), s = t.ownerSVGElement.getBoundingClientRect();
        return {x: t.closest('.xlabs') !== null, left: r.left, right: r.right, svgLeft: s.left,
                svgRight: s.right, px: parseFloat(getComputedStyle(t).fontSize)
                    * t.ownerSVGElement.getScreenCTM().a}; })"""


def test_chart_axis_labels_are_readable_on_a_phone(
    outage_site: Site, browser: Browser, tmp_path: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, locale="en-GB", timezone_id="Europe/Paris"
    )
    page = context.new_page()
    try:
        page.goto(outage_site.url + "/services/facebook")
        labels = page.evaluate(LABELS)
        assert labels and all(lab["px"] >= 10 for lab in labels)  # was 5 px
        assert all(lab["svgLeft"] <= lab["left"] and lab["right"] <= lab["svgRight"] + 1
                   for lab in labels)  # fmt: skip
        xs = sorted((lab for lab in labels if lab["x"]), key=lambda lab: lab["left"])
        assert len(xs) >= 3 and all(a["right"] < b["left"] for a, b in pairwise(xs))
        page.locator(".chart").first.screenshot(path=str(tmp_path / "phone-chart.png"))
    finally:
        context.close()


def test_an_operator_changes_a_subscription_in_the_admin_page(
    outage_site: Site, page: Page
) -> None:
    _, plain = keys.create(outage_site.node.engine, "ops", trusted=True, now_ms=0)
    page.goto(outage_site.url + "/admin/login")
    page.locator("input[name=key]").fill(plain)
    page.locator("form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Admin")
    add = page.locator("form[action='/admin/subscriptions']")
    add.locator("input[name=name]").fill("night shift")
    add.locator("input[name=services]").fill("steam")
    add.locator("select[name=channel]").select_option("apprise")
    add.locator("input[name=url]").fill("json://hooks.example.org/panne")
    add.locator("button[type=submit]").click()
    row = page.locator("tr", has_text="night shift")
    row.locator("summary", has_text="Change").click()
    form = row.locator("form.filters")
    expect(form.locator("input[name=services]")).to_have_value("steam")
    form.locator("input[name=name]").fill("day shift")
    form.locator("select[name=min_severity]").select_option("critical")
    form.locator("button", has_text="Save").click()
    expect(page.locator(".done")).to_have_text("Subscription changed.")
    changed = page.locator("tr", has_text="day shift")
    expect(changed).to_contain_text("≥ critical")
    expect(page.locator("tr", has_text="night shift")).to_have_count(0)


def test_the_api_page_works_with_no_way_out(outage_site: Site, page: Page) -> None:
    """Swagger UI from the package: FastAPI's page loaded it from a CDN and was blank here."""
    elsewhere: list[str] = []

    def only_here(route: Route) -> None:
        if route.request.url.startswith(outage_site.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    page.goto(outage_site.url + "/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("panne")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/reports").first).to_be_visible()
    assert elsewhere == []


def test_an_operators_update_keeps_its_lines_and_its_direction_to_itself(
    outage_site: Site, page: Page
) -> None:
    node = outage_site.node
    [meta] = [i for i in incident_store.query(node.engine, active=True)[0] if i.kind == "group"]
    body = "Step one\u202e reversed, never closed\nStep two\n- item a"
    update_store.add(node.engine, meta.id, "identified", body, "ops", int(node.clock.now()), "Fix")
    page.goto(outage_site.url + "/status/meta")
    shown = page.locator(".update-body").first
    expect(shown).to_have_css("white-space", "pre-line")
    expect(shown).to_have_css("unicode-bidi", "isolate")
    line = page.locator(".updates li .meta").first.bounding_box()
    box = shown.bounding_box()
    assert box is not None and line is not None and box["height"] > 2.5 * line["height"]
