"""A new candidate's whole journey in headless Chromium, against the platform as separate processes:
first login, forced password change, the three notices, basic information, confirmation, identity
photos with real faces, payment through the sandbox, then the registration page's later steps.
Every page is saved as a screenshot, once on a desktop screen and once on a phone's."""

from __future__ import annotations

import itertools
import random
import time
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from services.registration.tests.helpers import make_id
from tests.browser.conftest import fill_captcha, shot
from tests.browser.test_front_door import NEW_PASSWORD, login
from tests.conftest import System, wait_for
from zsb.auth.v1 import auth_pb2, auth_pb2_grpc
from zsb.common.settings import REPO_ROOT

pytestmark = pytest.mark.system
FACES = REPO_ROOT.parent / "shared" / "faces"
# 身份证号 and 手机号 may be used by one registration only: each candidate of a session gets its own.
ID_SEQ = itertools.count(random.randrange(1, 600, 2), 2)  # odd: men
NOTICES = ("instructions", "discipline", "pledge")
PHOTO_LABELS = {"portrait": "证件照", "id_card": "身份证人像面", "id_card_back": "身份证国徽面"}


def age_notices(system: System, number: str) -> None:
    """The server enforces 10 s of reading per notice: move the stored shown_at back instead of waiting."""
    engine = create_engine(system.database_url("registration"))
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT notice, shown_at FROM notice_readings WHERE candidate_no = :n "
                "AND shown_at IS NOT NULL AND acknowledged_at IS NULL"
            ),
            {"n": number},
        ).all()
        for notice, shown_at in rows:
            conn.execute(
                text("UPDATE notice_readings SET shown_at = :t WHERE candidate_no = :n AND notice = :k"),
                {"t": shown_at - timedelta(seconds=11), "n": number, "k": notice},
            )
    engine.dispose()


def reload_until(page: Page, selector: str, timeout: float = 600) -> None:
    """Reload until the selector shows: the page waits for another service's event (Kafka)."""
    wait_for(lambda: page.reload() is not None and page.locator(selector).count() > 0, timeout=timeout)


def first_login(page: Page, system: System, name: str, phone: str = "13900000000") -> str:
    """Login with the captcha, the forced password change; returns the 考生号."""
    number, initial = system.import_candidate(name=name, phone=phone)
    login(page, system, number, initial)
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    page.get_by_label("原密码").fill(initial)
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.get_by_label("确认新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    expect(page.get_by_role("heading", name="登录设备管理")).to_be_visible()
    return number


def read_notices(page: Page, system: System, number: str, prefix: str = "") -> None:
    """The three notices, each with its countdown: the button stays disabled until the time is up."""
    # The account's event opens the registration (Kafka). A new platform's consumers first read the
    # shared broker's whole history, so the first candidate may wait a while.
    page.goto(system.url("/registration"))
    started = time.monotonic()
    wait_for(lambda: page.reload() and page.get_by_text("报名信息正在开通").count() == 0, timeout=600)
    print(f"registration opened after {time.monotonic() - started:.0f} s")
    if prefix:
        shot(page, f"{prefix}-registration")
    page.goto(system.url("/registration/notice/instructions"))
    for i, notice in enumerate(NOTICES):
        expect(page).to_have_url(system.url(f"/registration/notice/{notice}"))
        button = page.locator("button[data-countdown]")
        expect(button).to_be_disabled()  # the countdown is running
        if prefix:
            shot(page, f"{prefix}-notice-{i + 1}-{notice}")
        age_notices(system, number)
        # The page's own countdown still runs: submit the form as the enabled button would.
        page.evaluate("document.querySelector('button[data-countdown]').closest('form').submit()")
    expect(page).to_have_url(system.url("/registration/basic-info"))


def fill_basic_info(page: Page, name: str, phone: str) -> None:
    values = {
        "name": name,
        "birth_date": "2003-09-15",
        "id_number": make_id(next(ID_SEQ)),
        "phone": phone,
        "graduated_school": "山西工程职业学院",
        "college_major_code": "530302",
        "college_major_name": "大数据与会计",
        "household_city": "太原市",
        "household_district": "小店区",
        "recipient": name,
        "recipient_phone": phone,
        "postal_code": "030006",
        "mailing_address": "山西省太原市小店区坞城路92号",
        "resume-0-start": "2006-09",
        "resume-0-end": "2009-07",
        "resume-0-unit": "太原市第五中学",
        "resume-0-role": "学生",
    }
    for field, value in values.items():
        page.locator(f'[name="{field}"]').fill(value)
    choices = {
        "ethnicity": "01",
        "political_status": "03",
        "candidate_category": "1",
        "candidate_type": "2",
        "major_category": "01",
        "city_code": "01",
        "point_code": "0113",
        "household_province": "14",
    }
    for field, value in choices.items():
        page.locator(f'select[name="{field}"]').select_option(value)
    for field, value in (("sex", "男"), ("poverty_registered", "0"), ("claims_bonus_points", "0")):
        page.locator(f'input[name="{field}"][value="{value}"]').check()


def register(
    page: Page,
    system: System,
    number: str,
    name: str,
    prefix: str = "",
    phone: str = "",
    confirm: bool = True,
) -> None:
    """Notices, 填写基本信息 with a resume row, 信息确认 and (unless told not to) 确定."""
    read_notices(page, system, number, prefix)
    fill_basic_info(page, name, phone or f"139{uuid.uuid4().int % 10**8:08d}")
    if prefix:
        shot(page, f"{prefix}-basic-info")
    page.get_by_role("button", name="提交并继续").click()
    expect(page).to_have_url(system.url("/registration/confirm"))
    expect(page.get_by_text("太原市第五中学")).to_be_visible()
    if prefix:
        shot(page, f"{prefix}-confirm")
    if not confirm:
        return
    page.get_by_role("button", name="确定").click()
    expect(page.locator('a[href="/identity"]').first).to_be_visible()


def upload_photos(page: Page, portrait: str, id_card: str, back: str) -> None:
    """Consent, then the three photos: 证件照, 身份证人像面 and 身份证国徽面."""
    consent = page.locator('input[name="agree"]')
    if consent.count():
        consent.check()
        page.get_by_role("button", name="同意并继续").click()
    for kind, file in (("portrait", portrait), ("id_card", id_card), ("id_card_back", back)):
        page.locator(f"#file-{kind}").set_input_files(str(FACES / file))
        page.locator(f"#file-{kind}").locator("xpath=..").locator("button[type=submit]").click()
        expect(page.get_by_role("img", name=f"已上传的{PHOTO_LABELS[kind]}")).to_be_visible()


def test_new_candidate_journey(page: Page, system: System) -> None:
    name = "郑一"
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
    register(page, system, number, name, prefix="j04")

    # Identity: real faces, the same person on the 证件照 and the ID card's portrait side.
    page.goto(system.url("/identity"))
    reload_until(page, 'input[name="agree"], #file-portrait')  # identity learns of the confirmation
    shot(page, "j05-identity")
    upload_photos(page, "img13.jpg", "img14.jpg", "img8.jpg")
    shot(page, "j05-identity-photos")
    page.get_by_role("button", name="开始认证").click()
    expect(page.get_by_role("link", name="继续办理网上支付")).to_be_visible(timeout=120000)
    shot(page, "j05-identity-passed")

    # Payment through the sandbox's cashier page.
    page.get_by_role("link", name="继续办理网上支付").click()
    expect(page.get_by_role("heading", name="网上支付")).to_be_visible()
    reload_until(page, "form.payment-choice")  # payment learns of the confirmation and the identity check
    shot(page, "j06-payment")
    page.get_by_role("button", name="立即支付").click()
    expect(page.get_by_role("img", name="微信支付付款二维码")).to_be_visible()
    shot(page, "j06-payment-order")
    # No phone to scan with: the order page's own link opens the (sandbox) WeChat pay page.
    page.goto(page.get_by_role("link", name="无法扫码？点击打开支付页面").get_attribute("href") or "")
    shot(page, "j06-sandbox-cashier")
    page.get_by_role("button", name="支付").click()
    expect(page.get_by_role("heading", name="支付成功")).to_be_visible()
    page.goto(system.url("/payment"))
    expect(page.locator("#payment-status-label")).to_have_text("已支付", timeout=60000)
    shot(page, "j06-payment-paid")

    # 报考信息 after payment, then 表格下载: the registration form at least, as a PDF.
    page.goto(system.url("/registration"))
    reload_until(page, 'a[href="/registration/forms"]')  # registration learns of the payment
    shot(page, "j07-registration-paid")
    # 录取加分登记表 only with bonus points claimed; 准考证 once staff publish the exam arrangement.
    assert downloads(page, system, "j08") == ["registration", "medical"]


def staff_login(page: Page, system: System, username: str, role: str, city: str = "", point: str = "") -> None:
    """A staff account made by the province over gRPC, then the admin login with its forced password change."""
    with system.channel("auth") as ch:
        initial = (
            auth_pb2_grpc.AuthServiceStub(ch)
            .CreateStaffAccount(
                auth_pb2.CreateStaffAccountRequest(
                    username=username, name="管理员", role=role, city_code=city, point_code=point
                ),
                timeout=30,
                metadata=system.bearer("province", "admin"),
            )
            .initial_password
        )
    page.goto(system.url("/admin/login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(initial)
    fill_captcha(page, system)
    page.get_by_role("button", name="登录").click()
    page.get_by_label("原密码").fill(initial)
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.get_by_label("确认新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    expect(page).to_have_url(system.url("/admin"))


def downloads(page: Page, system: System, prefix: str) -> list[str]:
    """表格下载: every form offered arrives as a PDF; returns the kinds downloaded."""
    page.goto(system.url("/registration/forms"))
    expect(page.get_by_role("heading", name="表格下载")).to_be_visible()
    shot(page, f"{prefix}-downloads")
    kinds = []
    for link in page.locator('a[href^="/registration/forms/"][href$=".pdf"]').all():
        href = link.get_attribute("href") or ""
        resp = page.request.get(system.url(href))
        assert resp.ok and resp.headers["content-type"].startswith("application/pdf"), href
        assert resp.body().startswith(b"%PDF-"), href
        kinds.append(href.rsplit("/", 1)[-1].removesuffix(".pdf"))
    return kinds
