"""Unhappy paths in a real browser, beyond the front door's (wrong captcha, lockout, forgotten password
and the idle logout are in test_front_door.py): abandoning the registration with a captcha and an SMS code,
a failed face check going to manual review and a staff decision, a rejected document uploaded again, and
a preference window that closes while the candidate is filling in the form."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.candidate_steps import (
    choose,
    fill_preferences,
    first_login,
    open_preference_form,
    pay,
    register,
    reload_until,
    scan_pdf,
    scan_png,
    submit_documents,
    upload_document,
    upload_photos,
    verify_identity,
)
from tests.browser.conftest import fill_captcha, shot
from tests.browser.staff_steps import (
    JDLK,
    ORDINARY,
    close_batch,
    open_batches,
    prepare_plan,
    review_documents,
    staff_login,
    staff_page,
)
from tests.conftest import System
from zsb.common.testing import sms_codes

pytestmark = pytest.mark.system


def test_abandon_the_registration_with_captcha_and_sms_code(page: Page, system: System) -> None:
    phone = "1365555" + ("0001" if page.viewport_name == "desktop" else "0002")  # type: ignore[attr-defined]
    number = first_login(page, system, "冯二", phone=phone)
    register(page, system, number, "冯二", phone=phone, confirm=False)
    page.get_by_text("放弃报名", exact=True).first.click()  # opens the <details>
    # A wrong captcha is refused next to its field; nothing is sent.
    page.fill("#captcha", "0000")
    page.get_by_role("button", name="获取短信验证码").click()
    expect(page.get_by_text("验证码错误或已过期，请重新输入")).to_be_visible()
    assert sms_codes(system.sms, phone) == []
    shot(page, "u10-abandon-wrong-captcha")
    fill_captcha(page, system)
    page.get_by_role("button", name="获取短信验证码").click()
    expect(page.get_by_text(f"短信验证码已发送至 {phone[:3]}****{phone[-4:]}")).to_be_visible()
    # A wrong code is refused; the right one with the consequences acknowledged ends the registration.
    page.locator("#abandon-code").fill("000000" if sms_codes(system.sms, phone)[-1] != "000000" else "111111")
    page.get_by_label("我已知晓放弃报名的后果，确定放弃报名").check()
    page.get_by_role("button", name="放弃报名").click()
    expect(page.locator("#abandon-code-error")).to_be_visible()
    shot(page, "u11-abandon-wrong-code")
    page.locator("#abandon-code").fill(sms_codes(system.sms, phone)[-1])
    page.get_by_label("我已知晓放弃报名的后果，确定放弃报名").check()
    page.get_by_role("button", name="放弃报名").click()
    expect(page).to_have_url(system.url("/registration"))
    expect(page.get_by_text("您已放弃报名，报名流程已结束。")).to_be_visible()
    expect(page.get_by_text("已放弃报名", exact=True)).to_be_visible()
    shot(page, "u12-abandoned")
    # The form stays closed: the wizard cannot be taken up again.
    page.goto(system.url("/registration/confirm"))
    expect(page.get_by_role("button", name="确定")).to_have_count(0)


def test_a_failed_face_check_goes_to_manual_review_and_staff_approve(page: Page, system: System) -> None:
    suffix = "1" if page.viewport_name == "desktop" else "2"  # type: ignore[attr-defined]
    number = first_login(page, system, "陈三")
    register(page, system, number, "陈三")
    page.goto(system.url("/identity"))
    reload_until(page, 'input[name="agree"], #file-portrait')
    # Different people on the 证件照 and the ID card: the automatic check sends the case to a person.
    upload_photos(page, "img13.jpg", "img8.jpg", "img14.jpg")
    page.get_by_role("button", name="开始认证").click()
    expect(page.locator("#identity-status")).to_contain_text("人工审核中", timeout=300000)
    shot(page, "u20-identity-manual-review")
    # A reviewer of the province looks at the photos and decides.
    staff = page.context.browser.new_context(viewport=page.viewport_size)  # type: ignore[union-attr]
    reviewer = staff.new_page()
    reviewer.viewport_name = page.viewport_name  # type: ignore[attr-defined]
    staff_login(reviewer, system, f"sfsh{suffix}{number[-6:]}", "province")
    reviewer.goto(system.url("/admin/identity/reviews"))
    expect(reviewer.get_by_text(number)).to_be_visible()
    shot(reviewer, "u21-admin-identity-reviews")
    reviewer.goto(system.url(f"/admin/identity/reviews/{number}"))
    shot(reviewer, "u22-admin-identity-review")
    reviewer.locator("#reason").fill("现场核验为本人")
    reviewer.get_by_role("button", name="审核通过").click()
    expect(reviewer.get_by_text("人工审核通过").first).to_be_visible()
    staff.close()
    page.reload()
    expect(page.locator("#identity-status")).to_contain_text("人工审核通过")
    expect(page.get_by_role("link", name="继续办理网上支付")).to_be_visible()
    shot(page, "u23-identity-approved")


def test_a_rejected_document_is_uploaded_again_and_a_closed_window_refuses_preferences(
    page: Page, system: System
) -> None:
    number = first_login(page, system, "褚四")
    register(page, system, number, "褚四", poverty=True)
    verify_identity(page, system)
    pay(page, system)
    page.goto(system.url("/registration/documents"))
    reload_until(page, "#file-poverty_registered")  # registration learns of the payment
    upload_document(page, "poverty_registered", "证明.png", scan_png("black"), "image/png")
    submit_documents(page)

    # The point rejects the unreadable scan with a reason; the candidate sees it and may upload again.
    point = staff_page(page, system, "point", point="0113")
    review_documents(point, system, number, reason="证明材料无法辨认，请重新上传清晰的扫描件", prefix="u30")
    page.reload()
    expect(page.locator(".facts")).to_contain_text("审核不通过")
    expect(page.locator(".facts")).to_contain_text("证明材料无法辨认")
    shot(page, "u31-documents-rejected")
    page.get_by_role("button", name="删除").click()
    expect(page.locator('section[aria-labelledby="kind-poverty_registered"]')).to_contain_text("尚未上传")
    upload_document(page, "poverty_registered", "建档立卡证明.pdf", scan_pdf(2), "application/pdf")
    shot(page, "u32-documents-uploaded-again")
    submit_documents(page)
    review_documents(point, system, number)
    point.context.close()
    page.reload()
    expect(page.locator(".facts")).to_contain_text("审核通过")
    shot(page, "u33-documents-approved")

    # The batch closes while the form is open: 确认提交 is refused and the pages say it is over.
    province = staff_page(page, system, "province")
    prepare_plan(province, system)
    open_batches(province, system)
    page.goto(system.url("/preferences"))
    reload_until(page, f"#edit-{ORDINARY}")  # preferences learns of the review (Kafka)
    fill_preferences(page, system, JDLK, [("10101", "01")])  # open: saved
    open_preference_form(page, system, ORDINARY)
    choose(page, "A", "10108", "01")
    close_batch(province, system, ORDINARY)
    page.locator("#submit-preferences").click()
    expect(page.locator("#pref-message")).to_contain_text("本批次填报已于")
    expect(page.locator("#pref-message")).to_contain_text("结束，不能再提交或修改")
    shot(page, "u34-preferences-window-closed")
    page.goto(system.url("/preferences"))
    expect(page.locator(f"#batch-{ORDINARY}")).to_contain_text("填报已于")
    expect(page.locator(f"#edit-{ORDINARY}")).to_have_count(0)
    expect(page.locator(f"#batch-{ORDINARY}")).to_contain_text("未填报")
    expect(page.locator(f"#batch-{JDLK}")).to_contain_text("已提交（第1次")
    shot(page, "u35-preferences-closed")
    page.goto(system.url(f"/preferences/{ORDINARY}/edit"))  # the form by its address: read-only
    expect(page.locator("#pref-readonly")).to_contain_text("结束")
    expect(page.locator("#pref-form")).to_have_count(0)
    province.context.close()
