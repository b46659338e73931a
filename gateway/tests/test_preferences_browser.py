"""The 志愿 form in headless Chromium: the dialogs by keyboard and by pointer, 清空, 确认提交, and
the inactivity warning; once on a desktop screen and once on a phone's."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from gateway.tests.test_preferences_pages import PrefStack, pstack  # noqa: F401 - the fixture
from services.auth.adapters.tables import Session
from services.preferences.tests.helpers import make_eligible
from tests.browser.conftest import CHROMIUM, FLAGS, shot
from zsb.common.testing import captcha_answer

NEW_PASSWORD = "Shanxi2026!ok"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
NUMBER = "21145101130001"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def live(pstack: PrefStack) -> Iterator[str]:  # noqa: F811 - the imported fixture
    server = make_server("127.0.0.1", 0, pstack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Browser, live: str) -> Iterator[Page]:
    """A fresh context per test; closed before the server stops, so no request is cut off."""
    context = browser.new_context(viewport=VIEWPORTS[request.param], locale="zh-CN", is_mobile=request.param == "phone")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    pg.viewport_name = request.param  # type: ignore[attr-defined]
    problems: list[str] = []
    # Every script error and CSP violation counts; the browser's own favicon request does not.
    pg.on(
        "console",
        lambda m: problems.append(m.text)
        if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
        else None,
    )
    pg.on("pageerror", lambda e: problems.append(str(e)))
    yield pg
    context.close()
    assert problems == [], problems  # no script error, no CSP violation


def signed_in(page: Page, stack: PrefStack, base: str) -> None:
    stack.import_plan()
    stack.schedule()
    make_eligible(stack.preferences.ctx.db, NUMBER)
    initial = stack.import_candidate(NUMBER)
    page.goto(base + "/")
    page.get_by_label("考生号").fill(NUMBER)
    page.locator("#password").fill(initial)
    page.fill("#captcha", captcha_answer(stack.answers, page.locator("#captcha_id").input_value()))
    page.get_by_role("button", name="登录").click()
    page.get_by_label("原密码").fill(initial)
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.get_by_label("确认新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    expect(page.get_by_role("heading", name="登录设备管理")).to_be_visible()


def test_dialogs_by_keyboard_and_pointer_then_submit(page: Page, pstack: PrefStack, live: str) -> None:  # noqa: F811
    signed_in(page, pstack, live)
    page.get_by_role("link", name="志愿信息").first.click()
    page.locator("#edit-ordinary").click()
    dialog = page.locator("#pref-dialog")
    expect(page.locator("#inst-A")).to_be_hidden()  # the select list gives way to the box
    expect(page.locator("#major-A-box")).to_be_disabled()
    # Keyboard: open, move with the arrows, choose with Enter; focus moves on to the major box.
    page.locator("#inst-A-box").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(page.locator("#pref-dialog-title")).to_have_text("平行志愿A：选择院校")
    expect(page.locator("#pick-10108")).to_be_focused()
    expect(dialog.locator("tbody tr")).to_have_count(5)  # institutions with category-01 places
    shot(page, "30-preferences-institution-dialog")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#pick-10125")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#inst-A-box")).to_have_text("10125 山西财经大学")
    expect(page.locator("#major-A-box")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#pref-dialog-title")).to_have_text("平行志愿A：选择10125 山西财经大学的专业")
    page.locator("#pref-dialog-search").fill("金融")
    expect(dialog.locator("tbody tr:visible")).to_have_count(1)
    page.locator("#pref-dialog-search").press("Enter")
    expect(page.locator("#pick-02")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#major-A-box")).to_have_text("02 金融学")
    # Escape closes and gives the focus back to the box that opened the dialog.
    page.locator("#inst-B-box").click()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#inst-B-box")).to_be_focused()
    # Pointer (or finger): B is filled, then 清空 empties it in the page.
    page.locator("#inst-B-box").click()
    page.get_by_role("button", name="选择 10108 山西大学").click()
    page.locator("#major-B-box").click()
    page.get_by_role("button", name="选择 01 会计学").click()
    expect(page.locator("#major-B-box")).to_have_text("01 会计学")
    page.locator("#clear-B").click()
    expect(page.locator("#inst-B-box")).to_have_text("请选择院校")
    expect(page.locator("#major-B-box")).to_be_disabled()
    assert page.url.endswith("/preferences/ordinary/edit")  # nothing was sent
    page.locator("#inst-B-box").click()
    page.get_by_role("button", name="选择 10126 运城学院").click()
    page.locator("#major-B-box").click()
    page.get_by_role("button", name="选择 03 财务管理").click()
    shot(page, "31-preferences-form-filled")
    page.locator("#submit-preferences").click()
    expect(page.locator("#pref-submitted")).to_have_text("志愿已提交成功（第1次提交）。")
    current = page.locator("#pref-view table.pref-version").first
    expect(current).to_contain_text("山西财经大学")
    expect(current).to_contain_text("运城学院")
    shot(page, "32-preferences-view")
    assert [(i.institution_code, i.major_code) for i in pstack.versions()[0].items] == [
        ("10125", "02"),
        ("10126", "03"),
    ]
    # 修改信息 reopens the form with the boxes showing what counts now.
    page.locator("#edit-ordinary").click()
    expect(page.locator("#inst-B-box")).to_have_text("10126 运城学院")
    expect(page.locator("#major-A-box")).to_have_text("02 金融学")


def test_the_inactivity_warning_counts_down_and_continuing_keeps_the_session(
    page: Page,
    pstack: PrefStack,  # noqa: F811
    live: str,
) -> None:
    signed_in(page, pstack, live)
    page.clock.install()
    page.goto(live + "/preferences/ordinary/edit")
    warning = page.locator("#idle-warning")
    expect(warning).to_be_hidden()
    page.clock.run_for("13:05")  # minutes:seconds of page time
    expect(warning).to_be_visible()
    expect(page.locator("#idle-countdown")).to_contain_text("分")
    expect(page.locator("#idle-continue")).to_be_focused()
    shot(page, "33-preferences-idle-warning")
    with page.expect_response(lambda r: "/api/v1/preferences/keepalive" in r.url):
        page.locator("#idle-continue").click()
    expect(warning).to_be_hidden()
    # Now the server forgets the session's activity: when the countdown ends the page goes to the
    # login with the manual's message, because the session has really ended.
    with pstack.auth.ctx.db.unit_of_work() as session:
        for s in session.scalars(select(Session)):
            s.last_seen_at = s.last_seen_at.replace(year=2000)
    page.clock.run_for("16:00")
    expect(page.get_by_text("长时间未操作，已自动退出，请重新登录")).to_be_visible()
