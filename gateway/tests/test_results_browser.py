"""成绩与录取信息 and 分数段统计 in headless Chromium, on a desktop screen and a phone's: the chart
is drawn without any script or other origin, and no CSP violation or script error occurs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from gateway.tests.test_results_pages import BOTH, NAMES, PLAN, ResultsStack, people, rstack  # noqa: F401
from tests.browser.conftest import CHROMIUM, FLAGS, shot
from zsb.common.testing import captcha_answer

NEW_PASSWORD = "Shanxi2026!ok"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def live(rstack: ResultsStack) -> Iterator[str]:  # noqa: F811 - the imported fixture
    server = make_server("127.0.0.1", 0, rstack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Browser, live: str) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORTS[request.param], locale="zh-CN", is_mobile=request.param == "phone")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    pg.viewport_name = request.param  # type: ignore[attr-defined]
    problems: list[str] = []
    requests: list[str] = []
    pg.on(
        "console",
        lambda m: problems.append(m.text)
        if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
        else None,
    )
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on("request", lambda r: requests.append(r.url))
    yield pg
    context.close()
    assert problems == [], problems
    assert all(url.startswith(live) for url in requests), [u for u in requests if not u.startswith(live)]


def test_scores_rank_and_bands_chart(rstack: ResultsStack, live: str, page: Page) -> None:  # noqa: F811
    folks = people()
    h = rstack.results
    h.plan(PLAN, NAMES)
    for p in folks:
        h.confirm(p)
    h.publish_scores(folks)
    number = folks[0].no
    initial = rstack.import_candidate(number, phone="13812345678")
    page.goto(f"{live}/")
    page.get_by_label("考生号").fill(number)
    page.locator("#password").fill(initial)
    page.fill("#captcha", captcha_answer(rstack.answers, page.locator("#captcha_id").input_value()))
    page.get_by_role("button", name="登录").click()
    page.get_by_label("原密码").fill(initial)
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.get_by_label("确认新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    expect(page.get_by_role("heading", name="登录设备管理")).to_be_visible()
    page.get_by_role("link", name="成绩与录取信息").first.click()
    expect(page.locator("#res-rank")).to_have_text("2")
    expect(page.locator("#res-no-admission")).to_be_visible()
    shot(page, "results-index")
    page.goto(f"{live}/results/bands")
    chart = page.locator("#res-chart")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["width"] <= VIEWPORTS[page.viewport_name]["width"]  # type: ignore[attr-defined,index]
    bars = page.locator("#res-chart rect")
    assert bars.count() == page.locator("#res-band-table tbody tr").count() > 1
    mine = page.locator("#res-chart rect.res-bar-mine")
    assert mine.count() == 1
    assert mine.evaluate("e => getComputedStyle(e).fill") != bars.first.evaluate("e => getComputedStyle(e).fill")
    expect(page.locator("#res-band-table tr.res-mine")).to_contain_text("230–239")
    shot(page, "results-bands")
