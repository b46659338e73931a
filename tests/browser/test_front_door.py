"""The front door in a real browser: login with captcha, forced password change, sessions, logout,
and the unhappy paths a person meets: wrong captcha, lockout, forgotten password with SMS, idle logout."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from tests.browser.conftest import fill_captcha, shot
from tests.conftest import System
from zsb.common.testing import sms_codes

pytestmark = pytest.mark.system
NEW_PASSWORD = "Shanxi2026!ok"


def login(page: Page, system: System, number: str, password: str) -> None:
    page.goto(system.url("/"))
    page.get_by_label("考生号").fill(number)
    page.get_by_label("密码").fill(password)
    fill_captcha(page, system)
    page.get_by_role("button", name="登录").click()


def test_first_login_change_password_and_logout(page: Page, system: System) -> None:
    number, initial = system.import_candidate(name="钱七")
    page.goto(system.url("/"))
    expect(page.get_by_role("heading", name="考生登录")).to_be_visible()
    for link in ("报名操作流程", "网上报名咨询电话", "考生使用说明"):
        expect(page.get_by_role("link", name=link)).to_be_visible()
    shot(page, "01-login")
    login(page, system, number, initial)
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    expect(page.get_by_text("首次登录，请修改初始密码后继续。")).to_be_visible()
    shot(page, "02-password-change")
    page.get_by_label("原密码").fill(initial)
    page.locator("#new_password").fill("weak")
    page.get_by_label("确认新密码").fill("weak")
    page.get_by_role("button", name="确认修改").click()
    expect(page.get_by_role("alert")).to_contain_text("密码长度须为12-16位")
    shot(page, "03-password-weak")
    page.get_by_label("原密码").fill(initial)
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.get_by_label("确认新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    expect(page.get_by_role("heading", name="登录设备管理")).to_be_visible()
    shot(page, "04-sessions")
    page.get_by_role("link", name="首页").first.click()
    expect(page.get_by_role("heading", name="欢迎，钱七")).to_be_visible()
    shot(page, "05-home")
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_text("您已安全退出")).to_be_visible()


def test_wrong_captcha_then_lockout(page: Page, system: System) -> None:
    number, initial = system.import_candidate(name="孙八")
    page.goto(system.url("/"))
    page.get_by_label("考生号").fill(number)
    page.get_by_label("密码").fill(initial)
    page.fill("#captcha", "0000")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#captcha-error")).to_have_text("验证码错误或已过期，请重新输入")
    shot(page, "10-wrong-captcha")
    for _ in range(5):
        login(page, system, number, "Wrong1!password")
        expect(page.locator("#password-error")).to_have_text("考生号或密码错误")
    login(page, system, number, initial)
    expect(page.get_by_role("alert")).to_contain_text("账号已锁定")
    shot(page, "11-locked")


def test_captcha_refresh_button(page: Page, system: System) -> None:
    page.goto(system.url("/"))
    before = page.locator("#captcha_id").input_value()
    page.get_by_role("link", name="看不清，换一张").click()
    expect(page.locator("#captcha_id")).not_to_have_value(before)


def test_forgotten_password_with_sms(page: Page, system: System) -> None:
    phone = f"137{abs(hash(page.viewport_name)) % 10**8:08d}"  # type: ignore[attr-defined]
    number, _initial = system.import_candidate(name="周九", phone=phone)
    page.goto(system.url("/"))
    page.get_by_role("link", name="忘记密码？").click()
    page.get_by_label("考生号").fill(number)
    page.get_by_label("身份证号").fill("140105199001011238")
    page.get_by_label("手机号").fill(phone)
    fill_captcha(page, system)
    shot(page, "20-forgot")
    page.get_by_role("button", name="获取短信验证码").click()
    expect(page.get_by_text(f"短信验证码已发送至 {phone[:3]}****{phone[-4:]}")).to_be_visible()
    code = sms_codes(system.sms, phone)[-1]
    page.get_by_label("短信验证码").fill(code)
    page.locator("#new_password").fill("Reset2026!abc")
    page.get_by_label("确认新密码").fill("Reset2026!abc")
    shot(page, "21-reset")
    page.get_by_role("button", name="重置密码").click()
    expect(page.get_by_text("密码已重置，请使用新密码登录")).to_be_visible()
    login(page, system, number, "Reset2026!abc")
    expect(
        page.get_by_role("heading", name="登录设备管理").or_(page.get_by_role("heading", name="欢迎，周九"))
    ).to_be_visible()


def test_idle_logout_after_fifteen_minutes(page: Page, system: System) -> None:
    number, initial = system.import_candidate(name="吴十")
    login(page, system, number, initial)
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    # Fifteen minutes pass without activity: move the session's last activity back.
    engine = create_engine(system.database_url("auth"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE sessions SET last_seen_at = '2000-01-01 00:00:00' WHERE subject = :n"), {"n": number})
    engine.dispose()
    page.reload()
    expect(page.get_by_text("长时间未操作，已自动退出，请重新登录")).to_be_visible()
    shot(page, "30-idle-logout")
