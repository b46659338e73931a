"""What a candidate does in the browser, step by step, for the journeys and the unhappy paths.

Each step drives the real pages; where the server enforces a reading time (the notices, the
ticket's pledge) the stored start is moved back instead of waiting. `prefix` names the screenshots
a step saves (none without it).
"""

from __future__ import annotations

import io
import itertools
import random
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta

from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect
from pypdf import PdfWriter
from sqlalchemy import create_engine, text

from services.registration.tests.helpers import make_id
from tests.browser.conftest import shot
from tests.browser.test_front_door import NEW_PASSWORD, login
from tests.conftest import System, wait_for
from zsb.common.settings import REPO_ROOT

FACES = REPO_ROOT.parent / "shared" / "faces"
# 身份证号 and 手机号 may be used by one registration only: each candidate of a session gets its own.
ID_SEQ = itertools.count(random.randrange(1, 600, 2), 2)  # odd: men
NOTICES = ("instructions", "discipline", "pledge")
PHOTO_LABELS = {"portrait": "证件照", "id_card": "身份证人像面", "id_card_back": "身份证国徽面"}
READING = timedelta(seconds=11)  # the server's 10 s of reading, and one more


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
                {"t": shown_at - READING, "n": number, "k": notice},
            )
    engine.dispose()


def age_pledge(system: System, number: str) -> None:
    """The same for the 考生诚信考试承诺书 read before the ticket."""
    engine = create_engine(system.database_url("registration"))
    with engine.begin() as conn:
        shown_at = conn.execute(
            text("SELECT shown_at FROM ticket_pledges WHERE candidate_no = :n AND acknowledged_at IS NULL"),
            {"n": number},
        ).scalar_one()
        conn.execute(
            text("UPDATE ticket_pledges SET shown_at = :t WHERE candidate_no = :n"),
            {"t": shown_at - READING, "n": number},
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


def fill_basic_info(page: Page, name: str, phone: str, *, bonus: bool = False, poverty: bool = False) -> None:
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
    if bonus:
        values["awards"] = "2024年获山西省职业院校技能大赛会计技能赛项一等奖"
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
    radios = {"sex": "男", "poverty_registered": "1" if poverty else "0", "claims_bonus_points": "1" if bonus else "0"}
    for field, value in radios.items():
        page.locator(f'input[name="{field}"][value="{value}"]').check()


def register(
    page: Page,
    system: System,
    number: str,
    name: str,
    prefix: str = "",
    phone: str = "",
    confirm: bool = True,
    *,
    bonus: bool = False,
    poverty: bool = False,
) -> None:
    """Notices, 填写基本信息 with a resume row, 信息确认 and (unless told not to) 确定."""
    read_notices(page, system, number, prefix)
    fill_basic_info(page, name, phone or f"139{uuid.uuid4().int % 10**8:08d}", bonus=bonus, poverty=poverty)
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


def verify_identity(page: Page, system: System, prefix: str = "") -> None:
    """Real faces, the same person on the 证件照 and the ID card's portrait side: the check passes."""
    page.goto(system.url("/identity"))
    reload_until(page, 'input[name="agree"], #file-portrait')  # identity learns of the confirmation
    if prefix:
        shot(page, f"{prefix}-identity")
    upload_photos(page, "img13.jpg", "img14.jpg", "img8.jpg")
    if prefix:
        shot(page, f"{prefix}-identity-photos")
    page.get_by_role("button", name="开始认证").click()
    expect(page.get_by_role("link", name="继续办理网上支付")).to_be_visible(timeout=120000)
    if prefix:
        shot(page, f"{prefix}-identity-passed")


def pay(page: Page, system: System, prefix: str = "") -> None:
    """网上支付 through the payment sandbox's cashier page, until the page says 已支付."""
    page.goto(system.url("/payment"))
    expect(page.get_by_role("heading", name="网上支付")).to_be_visible()
    reload_until(page, "form.payment-choice")  # payment learns of the confirmation and the identity check
    if prefix:
        shot(page, f"{prefix}-payment")
    page.get_by_role("button", name="立即支付").click()
    expect(page.get_by_role("img", name="微信支付付款二维码")).to_be_visible()
    order_page = page.url
    if prefix:
        shot(page, f"{prefix}-payment-order")
    # No phone to scan with: the order page's own link opens the (sandbox) WeChat pay page.
    page.goto(page.get_by_role("link", name="无法扫码？点击打开支付页面").get_attribute("href") or "")
    if prefix:
        shot(page, f"{prefix}-sandbox-cashier", foreign=True)
    page.get_by_role("button", name="支付").click()
    expect(page.get_by_role("heading", name="支付成功")).to_be_visible()
    # Back on the order page, which polls until the payment is verified (the provider's notification
    # may still be on its way) and then returns to 网上支付.
    page.goto(order_page)
    expect(page).to_have_url(system.url("/payment"), timeout=60000)
    expect(page.locator("#payment-status-label")).to_have_text("已支付")
    if prefix:
        shot(page, f"{prefix}-payment-paid")


# ---- 资料上传 ----


def scan_pdf(pages: int = 1) -> bytes:
    """A small PDF as a scanner makes one: blank A4 pages."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def scan_png(colour: str = "white") -> bytes:
    """A photographed certificate: a framed sheet."""
    image = Image.new("RGB", (800, 560), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, 770, 530), outline="darkred", width=12)
    draw.rectangle((300, 380, 500, 480), fill="red")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload_document(page: Page, kind: str, name: str, data: bytes, mime: str) -> None:
    """One file into a kind's upload form; the page comes back saying 文件已上传 and lists it."""
    field = page.locator(f"#file-{kind}")
    field.set_input_files({"name": name, "mimeType": mime, "buffer": data})
    field.locator("xpath=..").locator("button[type=submit]").click()
    expect(page.get_by_text("文件已上传。")).to_be_visible()
    expect(page.locator(f'section[aria-labelledby="kind-{kind}"] a')).not_to_have_count(0)


def submit_documents(page: Page) -> None:
    page.get_by_role("button", name="确定", exact=True).click()
    expect(page.locator(".facts")).to_contain_text("审核中")


# ---- 表格下载 ----


def read_ticket_pledge(page: Page, system: System, number: str, prefix: str = "") -> None:
    """The 考生诚信考试承诺书 before the ticket, with its countdown."""
    page.goto(system.url("/registration/forms"))
    page.get_by_role("link", name="阅读承诺书").click()
    expect(page.get_by_role("heading", name="考生诚信考试承诺书")).to_be_visible()
    expect(page.locator("button[data-countdown]")).to_be_disabled()
    if prefix:
        shot(page, f"{prefix}-pledge")
    age_pledge(system, number)
    page.evaluate("document.querySelector('button[data-countdown]').closest('form').submit()")
    expect(page.get_by_text("您已同意《考生诚信考试承诺书》。")).to_be_visible()


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


# ---- 志愿信息 ----


def choose(page: Page, slot: str, institution: str, major: str, prefix: str = "") -> None:
    """One parallel preference through the dialogs: the institution (filtered by its code), then its major."""
    dialog = page.locator("#pref-dialog")
    page.locator(f"#inst-{slot}-box").click()
    expect(dialog).to_be_visible()
    page.locator("#pref-dialog-search").fill(institution)
    expect(dialog.locator("#pref-dialog-rows tr:not([hidden])")).to_have_count(1)
    if prefix:
        shot(page, f"{prefix}-dialog-institution")
    dialog.locator(f"#pick-{institution}").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#inst-{slot}-box")).to_contain_text(institution)
    page.locator(f"#major-{slot}-box").click()
    expect(dialog).to_be_visible()
    if prefix:
        shot(page, f"{prefix}-dialog-major")
    dialog.locator(f"#pick-{major}").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#major-{slot}-box")).to_contain_text(major)


def open_preference_form(page: Page, system: System, batch: str) -> None:
    page.goto(system.url("/preferences"))
    page.locator(f"#edit-{batch}").click()
    expect(page.locator("#pref-form")).to_be_visible()


def fill_preferences(
    page: Page, system: System, batch: str, choices: Sequence[tuple[str, str]], prefix: str = ""
) -> None:
    """填报志愿 of a batch: each choice (院校代号, 专业代号) from slot A on, then 确认提交."""
    open_preference_form(page, system, batch)
    if prefix:
        shot(page, f"{prefix}-form")
    for i, (slot, (institution, major)) in enumerate(zip("ABCDEFGH", choices, strict=False)):
        choose(page, slot, institution, major, prefix if i == 0 else "")
    if prefix:
        shot(page, f"{prefix}-form-filled")
    page.locator("#submit-preferences").click()
    expect(page.locator("#pref-submitted")).to_be_visible()
    for institution, major in choices:
        expect(page.locator("#pref-view")).to_contain_text(f"{institution}")
        expect(page.locator("#pref-view")).to_contain_text(f"{major}")
    if prefix:
        shot(page, f"{prefix}-view")
