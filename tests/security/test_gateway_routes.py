"""Every gateway route from the Flask url_map against anonymous and candidate callers, plus the
classic web attacks: CSRF, session fixation, captcha replay, open redirects, injection, traversal,
and the security headers on every page."""

from __future__ import annotations

import re

import pytest
import requests

from gateway.app import create_app
from tests.conftest import System
from tests.security.client import api_login, candidate, csrf
from zsb.common.testing import captcha_answer

pytestmark = pytest.mark.system

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
    s = requests.Session()
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
