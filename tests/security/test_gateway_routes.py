"""Every gateway route from the Flask url_map against anonymous and candidate callers, plus the
classic web attacks: CSRF, session fixation, captcha replay, open redirects, injection, traversal,
and the security headers on every page."""

from __future__ import annotations

import io
import random
import re
import uuid

import pytest
import requests
from pypdf import PdfReader

from gateway.app import create_app
from tests.conftest import System
from tests.security.client import api_login, candidate, csrf, from_address, staff
from tests.security.journey import at_documents
from zsb.common.testing import captcha_answer

# Building candidates waits for several services' events: more than the default 300 s under load.
pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]

# Reachable without a session: the login side, public guides, health, the providers' signed callbacks.
PUBLIC_PREFIXES = ("/static", "/healthz", "/readyz", "/guide/", "/api/v1/openapi.json", "/api/v1/csrf",
                   "/api/v1/captcha", "/captcha", "/password/forgot", "/ticket/verify/", "/payment/pay.js")  # fmt: skip
PUBLIC_EXACT = {"/", "/admin/login", "/login", "/password/reset", "/api/v1/session"}
SAMPLE = {"int": "1", "default": "0"}
STACK_TRACE = re.compile(r"Traceback \(most recent call last\)|File \"/|grpc\._channel|sqlalchemy\.exc")


def routes() -> list[tuple[str, str]]:
    """(method, concrete path) of every route except static files, parameters filled in."""
    app = create_app()
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/static"):
            continue
        path = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLE.get(m.group(1) or "default", "0"), rule.rule)
        out.extend((method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return out


ROUTES = routes()


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES) or path.startswith("/payment/notify/")


def refused(resp: requests.Response, login_path: str) -> bool:
    """Sent to the login page, or a 401/403/404 — never the page itself."""
    if resp.status_code in (301, 302, 303):
        return resp.headers["Location"].split("?")[0].endswith(login_path)
    return resp.status_code in (401, 403, 404)


def assert_clean(resp: requests.Response) -> None:
    assert resp.status_code < 500, (resp.request.method, resp.url, resp.status_code)
    assert not STACK_TRACE.search(resp.text), resp.url


def assert_headers(resp: requests.Response) -> None:
    h = resp.headers
    assert "default-src 'self'" in h.get("Content-Security-Policy", ""), resp.url
    assert h.get("X-Frame-Options") == "DENY", resp.url
    assert h.get("X-Content-Type-Options") == "nosniff", resp.url


def test_the_route_table_is_read() -> None:
    assert len(ROUTES) > 100
    assert ("GET", "/registration/documents/0") in ROUTES


def test_anonymous_gets_nothing_private_and_every_answer_is_clean(system: System) -> None:
    s = requests.Session()
    for method, path in ROUTES:
        resp = s.request(method, system.url(path), allow_redirects=False, timeout=30)
        assert_clean(resp)
        if resp.headers.get("Content-Type", "").startswith("text/html"):
            assert_headers(resp)
        if is_public(path):
            continue
        if method == "POST":
            assert resp.status_code in (400, 401, 403, 404), (path, resp.status_code)  # CSRF first
        else:
            login = "/admin/login" if path.startswith("/admin") else "/"
            assert refused(resp, login), (path, resp.status_code, resp.headers.get("Location"))


def test_a_candidate_reaches_no_staff_route_and_pages_carry_security_headers(system: System) -> None:
    number, password = system.import_candidate(name="丙三")
    s = candidate(system, number, password)
    token = csrf(s, system.url(""))
    pages = 0
    for method, path in ROUTES:
        headers = {"X-CSRF-Token": token} if method != "GET" else {}
        resp = s.request(method, system.url(path), headers=headers, allow_redirects=False, timeout=30)
        assert_clean(resp)
        if resp.headers.get("Content-Type", "").startswith("text/html"):
            assert_headers(resp)
            pages += resp.status_code == 200
        if path.startswith("/admin") and path != "/admin/login":
            assert refused(resp, "/admin/login"), (method, path, resp.status_code)
    assert pages >= 4


def test_post_without_or_with_a_foreign_csrf_token_is_refused(system: System) -> None:
    number, password = system.import_candidate(name="丁四")
    s = candidate(system, number, password)
    other = requests.Session()
    foreign = csrf(other, system.url(""))
    body = {"old_password": "x", "new_password": "Another2026!pw"}
    assert s.post(system.url("/api/v1/password"), json=body, timeout=10).status_code == 403
    wrong = {"X-CSRF-Token": foreign}
    assert s.post(system.url("/api/v1/password"), json=body, headers=wrong, timeout=10).status_code == 403
    cross = {"X-CSRF-Token": csrf(s, system.url("")), "Origin": "https://evil.example"}
    assert s.post(system.url("/api/v1/password"), json=body, headers=cross, timeout=10).status_code == 403


def test_login_issues_a_new_session_id_and_ignores_a_planted_one(system: System) -> None:
    number, password = system.import_candidate(name="戊五")
    s = requests.Session()
    s.cookies.set("zsb_session", "planted-by-attacker", domain="127.0.0.1", path="/")
    assert api_login(system, s, system.url(""), number, password).status_code == 200
    issued = [c.value for c in s.cookies if c.name == "zsb_session"]
    assert issued and "planted-by-attacker" not in issued
    planted = requests.Session()
    planted.cookies.set("zsb_session", "planted-by-attacker", domain="127.0.0.1", path="/")
    assert planted.get(system.url("/api/v1/me"), timeout=10).status_code == 401


def test_a_captcha_answers_once(system: System) -> None:
    number, password = system.import_candidate(name="己六")
    base = system.url("")
    s = requests.Session()
    token = csrf(s, base)
    cap = s.get(f"{base}/api/v1/captcha", timeout=10).json()
    body = {"candidate_no": number, "password": password, "captcha_id": cap["id"],
            "captcha": captcha_answer(system.answers, cap["id"])}  # fmt: skip
    assert s.post(f"{base}/api/v1/session", json=body, headers={"X-CSRF-Token": token}, timeout=20).status_code == 200
    again = requests.Session()
    replay = again.post(f"{base}/api/v1/session", json=body, headers={"X-CSRF-Token": csrf(again, base)}, timeout=20)
    assert replay.status_code in (400, 401, 403) and "zsb_session" not in replay.cookies


# A rendered template expression would print MARKER; the raw input never contains it.
MARKER = "zsbtplzsbtpl"
INJECTIONS = ["' OR '1'='1' -- ", "2114510113' UNION SELECT password_hash FROM accounts -- ",
              "{{ 'zsbtpl' * 2 }}", "{% print 'zsbtpl' * 2 %}", "${'zsbtpl' * 2}"]  # fmt: skip


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_in_login_fields_is_just_a_wrong_login(system: System, value: str) -> None:
    base = system.url("")
    s = from_address(f"127.9.{random.randrange(256)}.{random.randrange(1, 255)}")  # its failures count there
    for number, password in ((value, "whatever"), ("21145101130000", value)):
        resp = api_login(system, s, base, number, password)
        assert resp.status_code in (400, 401, 403), resp.text
        assert MARKER not in resp.text and not STACK_TRACE.search(resp.text)
    form = {"candidate_no": value, "password": value, "csrf_token": csrf(s, base)}
    page = s.post(system.url("/login"), data=form, timeout=20)
    assert_clean(page)
    assert MARKER not in page.text and "zsb_session" not in page.cookies


TRAVERSALS = ["/registration/forms/..%2f..%2f..%2fetc%2fpasswd.pdf", "/registration/documents/..%2f..%2fetc%2fpasswd",
              "/identity/photos/..%2f..%2f..%2fetc%2fpasswd", "/registration/documents/%2e%2e%2f%2e%2e%2fapp.py",
              "/static/..%2f..%2fgateway%2fapp.py", "/static/../../gateway/app.py"]  # fmt: skip


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_on_file_routes_finds_nothing(system: System, path: str) -> None:
    number, password = system.import_candidate(name="庚七")
    s = candidate(system, number, password)
    resp = s.get(system.url(path), allow_redirects=False, timeout=10)
    assert resp.status_code in (302, 400, 403, 404), (path, resp.status_code)
    assert "root:" not in resp.text and "create_app" not in resp.text


def test_no_redirect_leaves_the_site(system: System) -> None:
    s = requests.Session()
    for method, path in ROUTES:
        if method != "GET":
            continue
        resp = s.get(system.url(path), params={"next": "https://evil.example/", "url": "//evil.example"},
                     allow_redirects=False, timeout=30)  # fmt: skip
        location = resp.headers.get("Location", "")
        assert "evil.example" not in location, (path, location)


STAFF_TRAVERSALS = [
    "/admin/registration/documents/..%2f..%2f..%2fetc%2fpasswd",
    "/admin/registration/documents/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/admin/identity/photos/..%2f..%2fapp.py",
    "/admin/exam/forms/..%2f..%2fetc/passwd.pdf",
    "/admin/exam/forms/21145101130001/..%2f..%2fpasswd.pdf",
]


def test_path_traversal_on_staff_file_routes_finds_nothing(system: System) -> None:
    province = staff(system, f"trav{uuid.uuid4().hex[:6]}", "province")
    for path in STAFF_TRAVERSALS:
        resp = province.get(system.url(path), allow_redirects=False, timeout=10)
        assert resp.status_code in (400, 403, 404, 409), (path, resp.status_code)
        assert "root:" not in resp.text and "create_app" not in resp.text and not STACK_TRACE.search(resp.text)


def test_error_pages_and_json_errors_carry_the_security_headers(system: System) -> None:
    s = requests.Session()
    pages = [
        (s.get(system.url("/no/such/page"), timeout=10), 404, "页面不存在"),
        (s.delete(system.url("/login"), timeout=10), 405, "不支持该操作"),
        (s.post(system.url("/login"), data={"candidate_no": "1"}, timeout=10), 403, "请求已失效"),
        (s.post(system.url("/login"), data=b"x" * (17 * 1024 * 1024),
                headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=60), 413, "上传的文件过大"),
    ]  # fmt: skip
    for resp, status, message in pages:
        assert resp.status_code == status and message in resp.text, (resp.url, resp.status_code)
        assert resp.headers["Content-Type"].startswith("text/html")
        assert_headers(resp)
    for resp, status in ((s.get(system.url("/api/v1/no-such"), timeout=10), 404),
                         (s.get(system.url("/api/v1/me"), timeout=10), 401),
                         (s.post(system.url("/api/v1/session"), json={}, timeout=10), 403)):  # fmt: skip
        assert resp.status_code == status and resp.json()["error"]["message"], resp.url
        assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["X-Frame-Options"] == "DENY"


TEMPLATE = "{{ 'zsbtpl' * 2 }}"
STATEMENT = "{% print 'zsbtpl' * 2 %}"
MARKUP = "<script>alert(1)</script>"


def test_template_and_markup_typed_into_the_form_stay_literal_on_pages_and_pdfs(system: System) -> None:
    """Free-text fields of 填写基本信息 are shown on the candidate's pages, the staff's review page
    and the PDFs: an expression in them is text, never evaluated, and markup is escaped."""
    address = f"山西省太原市{TEMPLATE}{MARKUP}坞城路92号"
    resume = [{"start": "2018-09", "end": "2021-07", "unit": f"{STATEMENT}太原市第五中学", "role": "学生"}]
    number, s = at_documents(system, "注入辛", poverty_registered="0", mailing_address=address, resume=resume)
    point = staff(system, f"inj{uuid.uuid4().hex[:6]}", "point", point="0113")
    pages = [s.get(system.url(p), timeout=20) for p in ("/profile", "/registration/confirm")]
    pages.append(point.get(system.url(f"/admin/registration/reviews/{number}"), timeout=20))
    for page in pages:
        assert page.status_code == 200, (page.url, page.status_code)
        assert MARKER not in page.text and MARKUP not in page.text, page.url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, page.url  # shown, as text
    pdfs = [s.get(system.url("/registration/forms/registration.pdf"), timeout=60),
            point.get(system.url(f"/admin/exam/forms/{number}/registration.pdf"), timeout=60)]  # fmt: skip
    for pdf in pdfs:
        assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf", (pdf.url, pdf.status_code)
        words = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        assert MARKER not in words and "'zsbtpl' * 2" in words and MARKUP in words, pdf.url
