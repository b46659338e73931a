"""Browsers against a gateway of the `system` fixture: a candidate or a staff member through the real
login (captcha answered from the side channel) and the forced password change."""

from __future__ import annotations

import re

import requests
from requests.adapters import HTTPAdapter

from tests.conftest import System
from zsb.auth.v1 import auth_pb2, auth_pb2_grpc
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


# ---- staff (管理端) ----

_HIDDEN = re.compile(r'<input type="hidden"(?: id="[^"]*")? name="([^"]+)" value="([^"]*)"')


def hidden(html: str) -> dict[str, str]:
    """The hidden fields of a page's forms (csrf_token, captcha_id...)."""
    return dict(_HIDDEN.findall(html))


def admin_csrf(s: requests.Session, base: str) -> str:
    """A staff session's CSRF token, as the console's pages carry it."""
    return hidden(s.get(f"{base}/admin/password", timeout=20).text)["csrf_token"]


def staff(system: System, username: str, role: str, city: str = "", point: str = "") -> requests.Session:
    """A staff account made by the province over gRPC, logged in through the admin login form
    (captcha from the side channel) and past its forced password change."""
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
    base = system.url("")
    s = requests.Session()
    fields = hidden(s.get(f"{base}/admin/login", timeout=20).text)
    fields.update(username=username, password=initial, captcha=captcha_answer(system.answers, fields["captcha_id"]))
    resp = s.post(f"{base}/admin/login", data=fields, allow_redirects=False, timeout=20)
    assert resp.status_code == 302, resp.text
    body = {"csrf_token": admin_csrf(s, base), "old_password": initial,
            "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}  # fmt: skip
    changed = s.post(f"{base}/admin/password", data=body, allow_redirects=False, timeout=20)
    assert changed.status_code == 302 and changed.headers["Location"].endswith("/admin"), changed.text
    return s


class SourceAddress(HTTPAdapter):
    """Connect from another loopback address (127.0.0.0/8 is all local), so that tests of the
    per-address login limits count on an address of their own and never block other tests."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


def from_address(address: str) -> requests.Session:
    s = requests.Session()
    s.mount("http://", SourceAddress(address))
    return s
