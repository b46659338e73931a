"""A new candidate's whole journey in headless Chromium, against the platform as separate processes.

First login with the captcha, the forced password change, the three notices with their countdowns,
basic information with a resume row (claiming 奖励加分, from a 建档立卡 family), confirmation,
identity photos with real faces, payment through the sandbox, the materials uploaded and reviewed
by the registration point, the exam arranged by the province, the four downloads, preferences in
both batches through the dialogs, then scores published and an admission run by the province, and
the result page. Every page is saved as a screenshot, once on a desktop screen and once on a phone's.

Published admission results are final (there is no un-publish), so one platform hosts one
admission: the test walks one candidate per screen, then publishes the scores and runs the
admission for both at once, and each candidate reads the result on their own screen.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.candidate_steps import (
    downloads,
    fill_preferences,
    first_login,
    pay,
    read_ticket_pledge,
    register,
    reload_until,
    scan_pdf,
    scan_png,
    submit_documents,
    upload_document,
    verify_identity,
)
from tests.browser.conftest import VIEWPORTS, open_page, shot
from tests.browser.staff_steps import (
    JDLK,
    ORDINARY,
    open_batches,
    prepare_exam,
    prepare_plan,
    publish_arrangement,
    publish_scores,
    review_documents,
    run_admission,
    set_control_lines,
    staff_page,
    view_admin_pages,
)
from tests.conftest import System

pytestmark = pytest.mark.system
NAMES = {"desktop": "郑一", "phone": "王五"}
# (公共课, 专业课): the desktop candidate ranks first, the phone candidate second.
SCORES = {"desktop": (130, 150), "phone": (120, 140)}
CONTROL_LINE = 200
# Both candidates' first choice of the 建档立卡 batch, the first phase of the admission.
ADMITTED = ("10101", "山西大学", "01", "会计学")


def walk(page: Page, system: System, name: str) -> str:
    """One candidate from the login page to preferences in both batches; returns the 考生号."""
    page.goto(system.url("/"))
    shot(page, "j01-login")
    # Keyboard: the first Tab shows the skip link; every focused control gets a visible ring.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到主要内容")).to_be_focused()
    expect(page.get_by_role("link", name="跳到主要内容")).to_be_in_viewport()
    for _ in range(2):
        page.keyboard.press("Tab")
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    number = first_login(page, system, name)
    shot(page, "j02-sessions")
    page.get_by_role("link", name="首页").first.click()
    expect(page.get_by_role("heading", name=f"欢迎，{name}")).to_be_visible()
    shot(page, "j03-home")
    register(page, system, number, name, prefix="j04", bonus=True, poverty=True)
    verify_identity(page, system, prefix="j05")
    pay(page, system, prefix="j06")

    # 资料上传: 奖励加分 and 建档立卡 need materials, so the review is a person's.
    page.goto(system.url("/registration"))
    reload_until(page, 'a.button-link[href="/registration/documents"]')  # registration learns of the payment
    shot(page, "j07-registration-paid")
    page.locator('a.button-link[href="/registration/documents"]').click()
    expect(page.get_by_role("heading", name="奖励加分材料")).to_be_visible()
    expect(page.get_by_role("heading", name="建档立卡材料")).to_be_visible()
    shot(page, "j08-documents")
    page.get_by_role("button", name="确定", exact=True).click()  # nothing uploaded yet: refused
    expect(page.get_by_text("请先上传奖励加分材料、建档立卡材料")).to_be_visible()
    upload_document(page, "bonus_points", "技能大赛获奖证书.pdf", scan_pdf(), "application/pdf")
    upload_document(page, "poverty_registered", "建档立卡证明.png", scan_png(), "image/png")
    shot(page, "j08-documents-uploaded")
    submit_documents(page)
    shot(page, "j08-documents-submitted")

    # The registration point reviews the materials in the admin console.
    point = staff_page(page, system, "point", point="0113")
    review_documents(point, system, number, prefix="j09")
    point.context.close()
    page.reload()
    expect(page.locator(".facts")).to_contain_text("审核通过")
    shot(page, "j09-documents-approved")

    # The province: the exam's sites and timetable, the arrangement, the plan, the batch windows.
    province = staff_page(page, system, "province")
    prepare_exam(province, system, prefix="j10")
    publish_arrangement(province, system, number, prefix="j10")
    prepare_plan(province, system, prefix="j11")
    open_batches(province, system, prefix="j11")
    province.context.close()

    # 表格下载: the pledge before the ticket, then all four documents.
    page.goto(system.url("/registration"))
    expect(page.locator('a.button-link[href="/registration/forms"]')).to_be_visible()
    shot(page, "j12-registration-approved")
    read_ticket_pledge(page, system, number, prefix="j12")
    assert downloads(page, system, "j12") == ["registration", "medical", "bonus", "ticket"]
    expect(page.get_by_text("太原师范学院考点", exact=True)).to_be_visible()  # the seat

    # 志愿信息: both batches, each through the institution and major dialogs.
    page.goto(system.url("/preferences"))
    reload_until(page, f"#edit-{JDLK}")  # preferences learns of the review (Kafka)
    shot(page, "j13-preferences")
    fill_preferences(page, system, JDLK, [(ADMITTED[0], ADMITTED[2])], prefix="j13-jdlk")
    fill_preferences(page, system, ORDINARY, [("10108", "01"), ("10101", "02")], prefix="j13-ordinary")
    page.goto(system.url("/preferences"))
    for batch in (JDLK, ORDINARY):
        expect(page.locator(f"#batch-{batch}")).to_contain_text("已提交（第1次")
    shot(page, "j13-preferences-submitted")
    return number


def read_results(page: Page, system: System, total: int, rank: int) -> None:
    """成绩与录取信息: the score, its rank, and the admission; then the score bands."""
    page.goto(system.url("/results"))
    expect(page.locator("#res-rank-text")).to_contain_text(f"您的投档总分为 {total} 分")
    expect(page.locator("#res-rank")).to_have_text(str(rank))
    expect(page.locator("#res-dispatched")).to_have_text("已录取")
    expect(page.locator("#res-institution")).to_have_text(f"{ADMITTED[0]} {ADMITTED[1]}")
    expect(page.locator("#res-major")).to_have_text(f"{ADMITTED[2]} {ADMITTED[3]}")
    shot(page, "j21-results")
    page.goto(system.url("/results/bands"))
    shot(page, "j21-bands")


def test_new_candidate_journey(browser: Browser, system: System) -> None:
    pages: dict[str, Page] = {}
    numbers: dict[str, str] = {}
    try:
        for viewport in VIEWPORTS:
            pages[viewport] = open_page(browser, viewport)
            numbers[viewport] = walk(pages[viewport], system, NAMES[viewport])

        # The province publishes the scores of both and runs the first phase (the 建档立卡 batch).
        province = staff_page(pages["desktop"], system, "province")
        publish_scores(province, system, {numbers[v]: SCORES[v] for v in VIEWPORTS}, prefix="j20")
        set_control_lines(province, system, CONTROL_LINE, prefix="j20")
        run_admission(province, system, {numbers[v]: ADMITTED[0] for v in VIEWPORTS}, prefix="j20")
        province.context.close()
        phone_staff = staff_page(pages["phone"], system, "province")
        admin_pages = [
            ("/admin/results/scores", "admin-scores"),
            ("/admin/results/settings", "admin-admission-settings"),
            ("/admin/results/runs", "admin-runs"),
        ]
        view_admin_pages(phone_staff, system, admin_pages, "j20")
        phone_staff.context.close()

        ranked = sorted(VIEWPORTS, key=lambda v: -sum(SCORES[v]))
        for viewport, page in pages.items():
            read_results(page, system, sum(SCORES[viewport]), ranked.index(viewport) + 1)
    finally:
        for page in pages.values():
            page.context.close()
