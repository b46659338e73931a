"""Logins, codes and session cookies through the gateway: brute force against accounts and from an
address, captcha guessing, SMS reset-code guessing, and cookies that are expired, revoked, of the
wrong side or not a session id at all.

The tests that fail logins on purpose connect from loopback addresses of their own (127.0.0.0/8),
so the per-address limit they reach never blocks the other tests, which come from 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import System
from tests.security.client import NEW_PASSWORD, api_login, candidate, csrf, from_address, hidden, staff
from zsb.common.clock import utcnow
from zsb.common.testing import captcha_answer, sms_codes

pytestmark = pytest.mark.system


def address() -> str:
    return f"127.{random.randrange(1, 255)}.{random.randrange(0, 255)}.{random.randrange(1, 255)}"


def wrong_login(system: System, s: requests.Session, number: str) -> requests.Response:
    return api_login(system, s, system.url(""), number, "Wrong2026!pass")


def test_five_wrong_passwords_lock_the_account_whatever_the_address(system: System) -> None:
    number, password = system.import_candidate(name="锁定甲")
    s = candidate(system, number, password)  # past the first password change
    attacker = from_address(address())
    for _ in range(5):
        resp = wrong_login(system, attacker, number)
        assert resp.status_code == 401 and resp.json()["error"]["message"] == "考生号或密码错误"
    for who in (attacker, from_address(address())):
        locked = api_login(system, who, system.url(""), number, NEW_PASSWORD)
        assert locked.status_code == 429 and "账号已锁定" in locked.json()["error"]["message"]
        assert "zsb_session" not in locked.cookies
    assert s.get(system.url("/api/v1/me"), timeout=10).status_code == 200  # a live session is not cut


def test_staff_accounts_lock_too(system: System) -> None:
    username = f"lock{uuid.uuid4().hex[:6]}"
    staff(system, username, "point", point="0113")
    attacker = from_address(address())
    for expected in ["用户名或密码错误"] * 5 + ["账号已锁定"] * 2:
        fields = hidden(attacker.get(system.url("/admin/login"), timeout=20).text)
        fields.update(username=username, password=NEW_PASSWORD if "锁定" in expected else "Wrong2026!pass",
                      captcha=captcha_answer(system.answers, fields["captcha_id"]))  # fmt: skip
        resp = attacker.post(system.url("/admin/login"), data=fields, allow_redirects=False, timeout=20)
        assert resp.status_code in (400, 429) and expected in resp.text, (expected, resp.status_code)
        assert "zsb_admin" not in resp.cookies


def test_thirty_failures_from_one_address_stop_it_and_a_forwarded_header_does_not_help(system: System) -> None:
    number, password = system.import_candidate(name="网络乙")
    candidate(system, number, password)
    attacker = from_address(address())
    for _ in range(30):  # different accounts each time: no account reaches its own limit
        assert wrong_login(system, attacker, f"2114510113{random.randrange(10**4):04d}").status_code in (401, 429)
    blocked = api_login(system, attacker, system.url(""), number, NEW_PASSWORD)
    assert blocked.status_code == 429 and "该网络登录失败次数过多" in blocked.json()["error"]["message"]
    attacker.headers["X-Forwarded-For"] = address()  # the gateway takes the peer's address, not a header
    assert api_login(system, attacker, system.url(""), number, NEW_PASSWORD).status_code == 429
    assert api_login(system, from_address(address()), system.url(""), number, NEW_PASSWORD).status_code == 200


def test_a_captcha_is_one_guess(system: System) -> None:
    number, password = system.import_candidate(name="验证丙")
    s = requests.Session()
    token = csrf(s, system.url(""))
    cap = s.get(system.url("/api/v1/captcha"), timeout=10).json()
    answer = captcha_answer(system.answers, cap["id"])
    # Surely wrong: '#' is never drawn (a fixed guess such as XXXX could be the answer itself).
    body = {"candidate_no": number, "password": password, "captcha_id": cap["id"], "captcha": "#" + answer[1:]}
    headers = {"X-CSRF-Token": token}
    wrong = s.post(system.url("/api/v1/session"), json=body, headers=headers, timeout=20)
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "captcha"
    body["captcha"] = answer  # the right answer, too late
    assert s.post(system.url("/api/v1/session"), json=body, headers=headers, timeout=20).status_code == 400


def test_an_sms_reset_code_has_five_tries(system: System) -> None:
    phone = f"138{random.randrange(10**8):08d}"
    number, password = system.import_candidate(name="短信丁", phone=phone)
    s = from_address(address())
    fields = hidden(s.get(system.url("/password/forgot"), timeout=20).text)
    fields.update(candidate_no=number, id_number="140105199001011238", phone=phone,
                  captcha=captcha_answer(system.answers, fields["captcha_id"]))  # fmt: skip
    page = s.post(system.url("/password/forgot"), data=fields, timeout=30)
    assert page.status_code == 200 and "短信验证码" in page.text, page.text[:300]
    (code,) = sms_codes(system.sms, phone)
    reset = {**hidden(page.text), "new_password": "Guess2026!pw", "confirm_password": "Guess2026!pw"}
    wrong_codes = [f"{(int(code) + i) % 10**6:06d}" for i in range(1, 6)]
    for tries_left, guess in zip([4, 3, 2, 1, 0], wrong_codes, strict=True):
        resp = s.post(system.url("/password/reset"), data={**reset, "code": guess}, allow_redirects=False, timeout=30)
        expected = f"验证码错误，还可尝试{tries_left}次" if tries_left else "验证码错误，请重新获取"
        assert resp.status_code == 400 and expected in resp.text, re.findall(r'role="alert">([^<]*)<', resp.text)
    right = s.post(system.url("/password/reset"), data={**reset, "code": code}, allow_redirects=False, timeout=30)
    assert right.status_code == 400 and "验证码已失效，请重新获取" in right.text
    assert api_login(system, requests.Session(), system.url(""), number, password).status_code == 200


# ---- cookies ----


def session_cookie(s: requests.Session, name: str) -> str:
    return next(c.value for c in s.cookies if c.name == name)


def refused_to_login(resp: requests.Response, login: str) -> str:
    """The notice the login page will show, after asserting the answer is that redirect."""
    assert resp.status_code == 302, resp.status_code
    target, _, query = resp.headers["Location"].partition("?")
    assert target.endswith(login), resp.headers["Location"]
    return query


def with_cookie(name: str, value: str) -> requests.Session:
    s = requests.Session()
    s.cookies.set(name, value, domain="127.0.0.1", path="/")
    return s


def test_a_cookie_of_the_other_side_or_not_a_session_opens_nothing(system: System, bearer) -> None:
    number, password = system.import_candidate(name="曲奇戊")
    cand = candidate(system, number, password)
    admin = staff(system, f"ck{uuid.uuid4().hex[:6]}", "province")
    staff_id, candidate_id = session_cookie(admin, "zsb_admin"), session_cookie(cand, "zsb_session")
    token = bearer("province", "admin")[0][1].removeprefix("Bearer ")  # a valid access token, not a session
    for value in (staff_id, token, "x" * 43, "' OR 1=1 --"):
        s = with_cookie("zsb_session", value)
        refused_to_login(s.get(system.url("/home"), allow_redirects=False, timeout=20), "/")
        assert s.get(system.url("/api/v1/me"), timeout=20).status_code == 401
    for value in (candidate_id, token):
        s = with_cookie("zsb_admin", value)
        refused_to_login(s.get(system.url("/admin"), allow_redirects=False, timeout=20), "/admin/login")
    # Both cookies in one browser: each side reads only its own.
    both = with_cookie("zsb_admin", candidate_id)
    both.cookies.set("zsb_session", staff_id, domain="127.0.0.1", path="/")
    refused_to_login(both.get(system.url("/admin"), allow_redirects=False, timeout=20), "/admin/login")
    refused_to_login(both.get(system.url("/home"), allow_redirects=False, timeout=20), "/")


def test_cookies_are_http_only_and_same_site(system: System) -> None:
    number, password = system.import_candidate(name="曲奇己")
    s = requests.Session()
    resp = api_login(system, s, system.url(""), number, password)
    cookie = resp.headers["Set-Cookie"]
    assert "zsb_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_expired_idle_logged_out_and_replaced_sessions_are_refused(system: System) -> None:
    engine = create_engine(system.database_url("auth"))

    def age(session_id: str, column: str, delta: timedelta) -> None:
        with engine.begin() as conn:
            conn.execute(
                text(f"UPDATE sessions SET {column} = :t WHERE id_hash = :h"),  # noqa: S608 - fixed names
                {"t": utcnow() - delta, "h": hashlib.sha256(session_id.encode()).hexdigest()},
            )

    number, password = system.import_candidate(name="过期庚")
    s = candidate(system, number, password)
    idle = session_cookie(s, "zsb_session")
    age(idle, "last_seen_at", timedelta(hours=3))
    resp = s.get(system.url("/home"), allow_redirects=False, timeout=20)
    assert refused_to_login(resp, "/") == "notice=idle"
    assert "zsb_session=;" in resp.headers.get("Set-Cookie", "") or 'zsb_session="";' in resp.headers.get(
        "Set-Cookie", ""
    )

    s = candidate(system, number, NEW_PASSWORD)
    expired = session_cookie(s, "zsb_session")
    age(expired, "absolute_expires_at", timedelta(seconds=1))
    assert refused_to_login(with_cookie("zsb_session", expired).get(system.url("/home"), allow_redirects=False,
                                                                    timeout=20), "/") == "notice=expired"  # fmt: skip

    s = candidate(system, number, NEW_PASSWORD)
    old = session_cookie(s, "zsb_session")
    s.post(system.url("/logout"), data={"csrf_token": csrf(s, system.url(""))}, timeout=20)
    assert with_cookie("zsb_session", old).get(system.url("/api/v1/me"), timeout=20).status_code == 401

    s = candidate(system, number, NEW_PASSWORD)
    before = session_cookie(s, "zsb_session")
    body = {"old_password": NEW_PASSWORD, "new_password": "Changed2026!pw"}
    changed = s.post(system.url("/api/v1/password"), json=body, headers={"X-CSRF-Token": csrf(s, system.url(""))},
                     timeout=20)  # fmt: skip
    assert changed.status_code == 200
    assert session_cookie(s, "zsb_session") != before  # a new session id after the change...
    assert (
        with_cookie("zsb_session", before).get(system.url("/api/v1/me"), timeout=20).status_code == 401
    )  # ...old gone
    assert s.get(system.url("/api/v1/me"), timeout=20).status_code == 200
    engine.dispose()
