"""Every front-door path through the gateway, against the real auth service."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.tests.conftest import CANDIDATE, NEW_PASSWORD, Stack, form_with_captcha, hidden, logged_in_client, login
from services.auth.adapters.tables import Session
from zsb.common.context import get_access_token
from zsb.common.testing import captcha_answer, sms_codes


def test_first_login_forces_password_change_then_home(stack: Stack) -> None:
    client = stack.client()
    initial = stack.import_candidate()
    resp = login(stack, client, initial)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/password/change")
    cookie = resp.headers["Set-Cookie"]
    assert "zsb_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # Any other page sends the candidate back to the password change.
    assert client.get("/home").headers["Location"].endswith("/password/change")
    page = client.get("/password/change").get_data(as_text=True)
    assert "12-16位" in page and "首次登录" in page
    csrf = hidden(page)["csrf_token"]
    weak = client.post(
        "/password/change",
        data={"csrf_token": csrf, "old_password": initial, "new_password": "abc", "confirm_password": "abc"},
    )
    assert weak.status_code == 400 and "密码长度须为12-16位" in weak.get_data(as_text=True)
    ok = client.post(
        "/password/change",
        data={
            "csrf_token": csrf,
            "old_password": initial,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert ok.status_code == 302 and "/account/sessions" in ok.headers["Location"]
    home = client.get("/home")
    assert home.status_code == 200 and "张三" in home.get_data(as_text=True)


def test_session_id_changes_at_login_and_password_change(stack: Stack) -> None:
    client = stack.client()
    initial = stack.import_candidate()
    first = login(stack, client, initial).headers["Set-Cookie"].split(";")[0]
    csrf = hidden(client.get("/password/change").get_data(as_text=True))["csrf_token"]
    resp = client.post(
        "/password/change",
        data={
            "csrf_token": csrf,
            "old_password": initial,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    second = resp.headers["Set-Cookie"].split(";")[0]
    assert first != second
    # Fixation: the old id, replayed, gives nothing.
    attacker = stack.client()
    attacker.set_cookie("zsb_session", first.split("=", 1)[1])
    assert attacker.get("/home").status_code == 302


def test_planted_session_id_is_not_adopted(stack: Stack) -> None:
    client = stack.client()
    client.set_cookie("zsb_session", "attacker-chosen-id")
    resp = login(stack, client, stack.import_candidate())
    assert "attacker-chosen-id" not in resp.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"candidate_no": "", "password": "x"}, "请输入考生号"),
        ({"candidate_no": "123", "password": "x"}, "考生号应为14位数字"),
        ({"candidate_no": CANDIDATE, "password": ""}, "请输入密码"),
        ({"candidate_no": "1" * 200, "password": "x"}, "输入过长"),
        ({"candidate_no": "<script>alert(1)</script>", "password": "x"}, "考生号应为14位数字"),
    ],
)
def test_bad_login_input_gets_chinese_field_errors(stack: Stack, data: dict, field_message: str) -> None:
    client = stack.client()
    fields = form_with_captcha(stack, client, "/")
    resp = client.post("/login", data={**fields, **data})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and field_message in html
    assert "<script>alert(1)</script>" not in html


def test_wrong_captcha_and_replayed_captcha(stack: Stack) -> None:
    client = stack.client()
    initial = stack.import_candidate()
    fields = form_with_captcha(stack, client, "/")
    answer = fields["captcha"]
    resp = client.post("/login", data={**fields, "captcha": "ZZZZ", "candidate_no": CANDIDATE, "password": initial})
    assert resp.status_code == 400 and "验证码错误或已过期" in resp.get_data(as_text=True)
    replay = client.post("/login", data={**fields, "captcha": answer, "candidate_no": CANDIDATE, "password": initial})
    assert replay.status_code == 400 and "验证码错误或已过期" in replay.get_data(as_text=True)


def test_wrong_password_until_lockout(stack: Stack) -> None:
    client = stack.client()
    initial = stack.import_candidate()
    for _ in range(5):
        resp = login(stack, client, "Wrong1!password")
        assert resp.status_code == 400 and "考生号或密码错误" in resp.get_data(as_text=True)
    locked = login(stack, client, initial)
    assert locked.status_code == 400 and "账号已锁定" in locked.get_data(as_text=True)


def test_csrf_token_is_required_on_every_post(stack: Stack) -> None:
    client = logged_in_client(stack)
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.get("/home").status_code == 200  # still logged in
    anon = stack.client()
    fields = form_with_captcha(stack, anon, "/")
    del fields["csrf_token"]
    assert anon.post("/login", data={**fields, "candidate_no": CANDIDATE, "password": "x"}).status_code == 403
    cross = client.post(
        "/logout",
        data={"csrf_token": hidden(client.get("/home").get_data(as_text=True))["csrf_token"]},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403


def test_logout_ends_the_session_everywhere(stack: Stack) -> None:
    client = logged_in_client(stack)
    cookie = client.get_cookie("zsb_session").value
    csrf = hidden(client.get("/home").get_data(as_text=True))["csrf_token"]
    resp = client.post("/logout", data={"csrf_token": csrf})
    assert resp.status_code == 302 and "notice=logout" in resp.headers["Location"]
    other = stack.client()
    other.set_cookie("zsb_session", cookie)
    assert other.get("/home").status_code == 302
    assert "您已安全退出" in client.get("/?notice=logout").get_data(as_text=True)


def test_inactivity_logs_out_with_the_manuals_message(stack: Stack) -> None:
    client = logged_in_client(stack)
    with stack.auth.ctx.db.unit_of_work() as session:
        for s in session.scalars(select(Session)):
            s.last_seen_at = s.last_seen_at.replace(year=2000)
    resp = client.get("/home")
    assert resp.status_code == 302 and "notice=idle" in resp.headers["Location"]
    assert "长时间未操作" in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_other_sessions_can_be_ended_after_password_change(stack: Stack) -> None:
    client = logged_in_client(stack)
    other = stack.client()
    assert login(stack, other, NEW_PASSWORD).status_code == 302
    page = client.get("/account/sessions").get_data(as_text=True)
    assert page.count("结束</button>") == 1 and "本设备" in page
    csrf = hidden(page)["csrf_token"]
    client.post("/account/sessions/revoke", data={"csrf_token": csrf})
    assert other.get("/home").status_code == 302
    assert client.get("/home").status_code == 200


def test_forgotten_password_with_sms(stack: Stack) -> None:
    stack.import_candidate()
    client = stack.client()
    fields = form_with_captcha(stack, client, "/password/forgot")
    resp = client.post(
        "/password/forgot",
        data={**fields, "candidate_no": CANDIDATE, "id_number": "140105199001011238", "phone": "13812345678"},
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "138****5678" in page
    (code,) = sms_codes(stack.sms, "13812345678")
    csrf = hidden(page)["csrf_token"]
    bad = client.post(
        "/password/reset",
        data={
            "csrf_token": csrf,
            "candidate_no": CANDIDATE,
            "code": "999999" if code != "999999" else "111111",
            "new_password": "Reset2026!abc",
            "confirm_password": "Reset2026!abc",
        },
    )
    assert bad.status_code == 400 and "验证码错误" in bad.get_data(as_text=True)
    ok = client.post(
        "/password/reset",
        data={
            "csrf_token": csrf,
            "candidate_no": CANDIDATE,
            "code": code,
            "new_password": "Reset2026!abc",
            "confirm_password": "Reset2026!abc",
        },
    )
    assert ok.status_code == 302 and "notice=reset" in ok.headers["Location"]
    assert login(stack, stack.client(), "Reset2026!abc").status_code == 302


def test_forgotten_password_mismatch_is_explained(stack: Stack) -> None:
    stack.import_candidate()
    client = stack.client()
    fields = form_with_captcha(stack, client, "/password/forgot")
    resp = client.post(
        "/password/forgot",
        data={**fields, "candidate_no": CANDIDATE, "id_number": "140105199001011238", "phone": "13999999999"},
    )
    assert resp.status_code == 400 and "不匹配" in resp.get_data(as_text=True)
    assert sms_codes(stack.sms, "13999999999") == []


def test_candidate_session_cannot_open_the_admin_side(stack: Stack) -> None:
    client = logged_in_client(stack)
    resp = client.get("/admin")
    assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
    # Nor can its cookie be used as the admin cookie.
    client.set_cookie("zsb_admin", client.get_cookie("zsb_session").value)
    assert client.get("/admin").status_code == 302


def test_json_api_login_and_errors(stack: Stack) -> None:
    initial = stack.import_candidate()
    client = stack.client()
    csrf = client.get("/api/v1/csrf").json["csrf_token"]
    captcha = client.get("/api/v1/captcha").json
    answer = captcha_answer(stack.answers, captcha["id"])
    no_csrf = client.post("/api/v1/session", json={})
    assert no_csrf.status_code == 403
    headers = {"X-CSRF-Token": csrf}
    assert client.post("/api/v1/session", data="not json", headers=headers).json["error"]["code"] == "BAD_JSON"
    typed = client.post("/api/v1/session", json={"candidate_no": 1}, headers=headers)
    assert typed.status_code == 400 and typed.json["error"]["field"] == "candidate_no"
    bad = client.post(
        "/api/v1/session",
        json={"candidate_no": CANDIDATE, "password": initial, "captcha_id": captcha["id"], "captcha": "nope"},
        headers=headers,
    )
    assert bad.status_code == 400 and bad.json["error"] == {
        "code": "CAPTCHA_INVALID",
        "message": "验证码错误或已过期，请重新输入",
        "field": "captcha",
    }
    captcha = client.get("/api/v1/captcha").json
    answer = captcha_answer(stack.answers, captcha["id"])
    ok = client.post(
        "/api/v1/session",
        json={"candidate_no": CANDIDATE, "password": initial, "captcha_id": captcha["id"], "captcha": answer},
        headers=headers,
    )
    assert ok.status_code == 200 and ok.json["must_change_password"] is True
    me = client.get("/api/v1/me").json
    assert me["candidate_no"] == CANDIDATE and me["must_change_password"] is True


def test_staff_login_import_and_scope(stack: Stack) -> None:
    password = stack.staff("point0113", "point", point="0113")
    client = stack.client()
    fields = form_with_captcha(stack, client, "/admin/login")
    resp = client.post("/admin/login", data={**fields, "username": "point0113", "password": password})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/password")
    assert "zsb_admin=" in resp.headers["Set-Cookie"]
    csrf = hidden(client.get("/admin/password").get_data(as_text=True))["csrf_token"]
    client.post(
        "/admin/password",
        data={
            "csrf_token": csrf,
            "old_password": password,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    page = client.get("/admin").get_data(as_text=True)
    assert "报名点" in page and "考生账号导入" in page and "安全审计日志" not in page
    csrf = hidden(page)["csrf_token"]
    import io

    good = "考生号,姓名,身份证号,手机号,报名点\n21145101130005,李四,140105199001011238,13800000005,0113\n".encode()
    resp = client.post(
        "/admin/candidates/import",
        data={"csrf_token": csrf, "file": (io.BytesIO(good), "list.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    text = resp.get_data(as_text=True)
    assert "21145101130005," in text and len(text.strip().splitlines()) == 2
    other_point = (
        "考生号,姓名,身份证号,手机号,报名点\n21145102050009,王五,140105199001011238,13800000006,0205\n".encode()
    )
    resp = client.post(
        "/admin/candidates/import",
        data={"csrf_token": csrf, "file": (io.BytesIO(other_point), "list.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400 and "不属于本单位管理范围" in resp.get_data(as_text=True)
    junk = client.post(
        "/admin/candidates/import",
        data={"csrf_token": csrf, "file": (io.BytesIO(b"\x00\x01garbage"), "x.xlsx")},
        content_type="multipart/form-data",
    )
    assert junk.status_code == 400 and (
        "缺少列" in junk.get_data(as_text=True) or "格式" in junk.get_data(as_text=True)
    )
    # A point's staff cannot reach province-only functions: the service refuses, not just the menu.
    assert client.get("/admin/audit").status_code == 403


def test_an_anonymous_request_never_carries_the_previous_callers_token(stack: Stack) -> None:
    # The test client runs requests in this thread, as a gunicorn worker thread runs one after
    # another: a token set for a signed-in candidate must not stay for the next, anonymous caller
    # (once expired it made every captcha and login on that thread fail with 登录已过期).
    signed_in = logged_in_client(stack)
    assert signed_in.get("/home").status_code == 200
    assert get_access_token() != ""
    anonymous = stack.client()
    page = anonymous.get("/")
    assert page.status_code == 200 and "考生登录" in page.get_data(as_text=True)
    assert get_access_token() == ""
