"""A candidate's browser against a gateway of the `system` fixture: captcha, login, password change."""

from __future__ import annotations

import requests

from tests.conftest import System
from zsb.common.testing import captcha_answer

NEW_PASSWORD = "Zsb2026!secure"


def csrf(s: requests.Session, base: str) -> str:
    return str(s.get(f"{base}/api/v1/csrf", timeout=10).json()["csrf_token"])


def api_login(system: System, s: requests.Session, base: str, number: str, password: str) -> requests.Response:
    token = csrf(s, base)
    got = s.get(f"{base}/api/v1/captcha", timeout=10)
    if got.status_code != 200:
        return got  # the refusal itself (e.g. auth is down), for the caller to judge
    cap = got.json()
    body = {"candidate_no": number, "password": password, "captcha_id": cap["id"],
            "captcha": captcha_answer(system.answers, cap["id"])}  # fmt: skip
    return s.post(f"{base}/api/v1/session", json=body, headers={"X-CSRF-Token": token}, timeout=20)


def candidate(system: System, number: str, password: str, gateway: int = 0) -> requests.Session:
    """A logged-in session of a candidate who has changed the initial password."""
    base = system.url("", gateway)
    s = requests.Session()
    resp = api_login(system, s, base, number, password)
    assert resp.status_code == 200, resp.text
    if resp.json()["must_change_password"]:
        body = {"old_password": password, "new_password": NEW_PASSWORD}
        changed = s.post(f"{base}/api/v1/password", json=body, headers={"X-CSRF-Token": csrf(s, base)}, timeout=20)
        assert changed.status_code == 200, changed.text
    return s
