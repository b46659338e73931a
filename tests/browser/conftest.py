"""Headless Chromium (Debian's package) driven by Playwright, with a screenshot of every page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import System
from zsb.common.settings import VAR_DIR
from zsb.common.testing import captcha_answer

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling hosts this machine cannot reach.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=zh-CN",  # the browser's own controls (file inputs) speak the page's language
]
SCREENSHOTS = VAR_DIR / "artifacts" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def open_page(browser: Browser, viewport: str) -> Page:
    """A page in a fresh browser context (no cookies) on a viewport of VIEWPORTS; close its `context`."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN", is_mobile=viewport == "phone")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    pg.viewport_name = viewport  # type: ignore[attr-defined]
    return pg


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, once on a desktop and once on a phone screen."""
    pg = open_page(browser, request.param)
    yield pg
    pg.context.close()


def shot(page: Page, name: str, *, foreign: bool = False) -> Path:
    """Save a full-page screenshot as an artefact: var/artifacts/screenshots/<viewport>/<name>.png.

    On a phone it also checks that the page does not scroll sideways, unless the page is `foreign`
    (a third party's, such as the payment provider's cashier)."""
    path = SCREENSHOTS / page.viewport_name / f"{name}.png"  # type: ignore[attr-defined]
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    if page.viewport_name == "phone" and not foreign:  # type: ignore[attr-defined]
        # site.css promises no sideways scrolling on a phone: wide content scrolls in its own box.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORTS["phone"]["width"], f"{name}: the page is {width}px wide on a phone"
    return path


def fill_captcha(page: Page, system: System) -> None:
    """Type the captcha's answer, read from the auth service's side channel (the captcha is not weakened)."""
    captcha_id = page.locator("#captcha_id").input_value()
    page.fill("#captcha", captcha_answer(system.answers, captcha_id))
