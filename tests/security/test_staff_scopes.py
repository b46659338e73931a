"""The gateway's admin routes against each staff scope (province, city, point, reviewer).

Who may use a route is declared once, on the route (`login_required(staff=True, roles=...)`,
read back as the view's `staff_roles`); the route list comes from the Flask url_map, so a new
route is covered as soon as it exists. Scope (which candidates) is the services' business: staff
of another city or point must get nothing of a candidate: not their pages, documents, photos,
review, order or export lines, and cannot decide on them.
"""

from __future__ import annotations

import io
import re

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from gateway.app import create_app
from gateway.security import STAFF_ROLES
from tests.conftest import System
from tests.security.client import candidate, hidden
from tests.security.conftest import Staff, Victim

APP = create_app()
LOGIN = "/admin/login"
REFUSED_ROLE = "无权执行此操作"
# Building the candidate waits for several services' events: more than the default 300 s under load.
pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]
STACK_TRACE = re.compile(r"Traceback \(most recent call last\)|File \"/|grpc\._channel|sqlalchemy\.exc")


def admin_rules() -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) of every staff route."""
    out = []
    for rule in APP.url_map.iter_rules():
        if rule.rule.startswith("/admin") and rule.endpoint not in ("admin.login_page", "admin.login", "admin.logout"):
            out.extend((m, rule.rule, rule.endpoint) for m in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return sorted(out)


RULES = admin_rules()


def roles_of(endpoint: str) -> tuple[str, ...]:
    return APP.view_functions[endpoint].staff_roles


def fill(rule: str, victim: Victim | None = None) -> str:
    """A concrete path: the victim's own identifiers where the route takes them, else placeholders."""
    ids = (
        {"candidate_no": victim.number, "document_id": victim.document_id, "photo_id": victim.photo_id}
        if victim
        else {}
    )
    return re.sub(
        r"<(?:(\w+):)?(\w+)>",
        lambda m: ids.get(m.group(2), "registration" if m.group(2) == "kind" else "1" if m.group(1) == "int" else "0"),
        rule,
    )


def test_every_staff_route_declares_its_roles_and_the_menu_offers_no_more() -> None:
    assert len(RULES) > 60
    for _, rule, endpoint in RULES:
        roles = roles_of(endpoint)
        assert roles and set(roles) <= set(STAFF_ROLES), (rule, roles)
    for entry in APP.extensions["admin_menu"]:
        offered = set(entry.roles or STAFF_ROLES)
        assert offered <= set(roles_of(entry.endpoint)), (entry.label, offered, roles_of(entry.endpoint))
    # The province alone sets the calendar, the site content, the reference data and staff accounts.
    for prefix in ("/admin/calendar", "/admin/content", "/admin/registration/reference", "/admin/staff"):
        assert all(roles_of(e) == ("province",) for m, r, e in RULES if r.startswith(prefix) and m == "POST"), prefix


def csrf_of(s: requests.Session, system: System) -> str:
    return hidden(s.get(system.url("/admin/password"), timeout=20).text)["csrf_token"]


def test_each_role_reaches_exactly_its_routes(system: System, staff_of_every_scope: dict[str, Staff]) -> None:
    """In-scope staff of each role: a route not declared for the role is a 403 page before any
    service is asked (POSTs included, so nothing changes); a declared page opens."""
    mine = [s for s in staff_of_every_scope.values() if s.in_scope]
    assert {s.role for s in mine} == set(STAFF_ROLES)
    tokens = {s.label: csrf_of(s.session, system) for s in mine}
    refused = opened = 0
    for method, rule, endpoint in RULES:
        path = fill(rule)
        for who in mine:
            allowed = who.role in roles_of(endpoint)
            if method != "GET" and allowed:
                continue  # an empty form to a real action: not for this test
            data = {"csrf_token": tokens[who.label]} if method != "GET" else None
            resp = who.session.request(method, system.url(path), data=data, allow_redirects=False, timeout=60)
            assert resp.status_code < 500 and not STACK_TRACE.search(resp.text), (who.label, method, path)
            if allowed:
                opened += 1
                assert resp.status_code != 403 or REFUSED_ROLE not in resp.text, (who.label, path, "declared")
                location = resp.headers.get("Location", "")
                assert not location.split("?")[0].endswith(LOGIN), (who.label, path)
            else:
                refused += 1
                assert resp.status_code == 403 and REFUSED_ROLE in resp.text, (
                    who.label,
                    method,
                    path,
                    resp.status_code,
                )
    assert refused > 100 and opened > 50


def xlsx_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return " ".join(str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row)


def visible(resp: requests.Response, victim: Victim) -> bool:
    """Whether the answer shows anything of the victim."""
    if resp.status_code != 200:
        return False
    if resp.headers.get("Content-Type", "").startswith("application/vnd.openxmlformats"):
        body = xlsx_text(resp.content)
    elif resp.headers.get("Content-Type", "").startswith(("image/", "application/pdf")):
        return True  # a file of theirs
    else:
        body = re.sub(r'(value|href)="[^"]*"', "", resp.text)  # not the filter echoed in a form or a link
    return victim.number in body or victim.name in body or victim.order_no in body


def test_staff_of_other_scopes_get_nothing_of_a_candidate(
    system: System, victim: Victim, staff_of_every_scope: dict[str, Staff]
) -> None:
    """Every staff GET route, with the victim's identifiers in the path and as a filter."""
    seen_by: dict[str, set[str]] = {label: set() for label in staff_of_every_scope}
    for method, rule, endpoint in RULES:
        if method != "GET":
            continue
        path = fill(rule, victim)
        for who in staff_of_every_scope.values():
            if who.role not in roles_of(endpoint):
                continue  # the route is refused to the role altogether (test above)
            resp = who.session.get(system.url(path), params={"candidate_no": victim.number, "q": victim.number},
                                   allow_redirects=False, timeout=60)  # fmt: skip
            assert resp.status_code < 500, (who.label, path)
            if visible(resp, victim):
                seen_by[who.label].add(rule)
    for who in staff_of_every_scope.values():
        if not who.in_scope:
            assert seen_by[who.label] == set(), (who.label, seen_by[who.label])
    # The test can fail: staff in scope do see the candidate in these places.
    expected = {"/admin/candidates", "/admin/registration/reviews/<candidate_no>", "/admin/candidates/export.xlsx",
                "/admin/registration/documents/<document_id>", "/admin/identity/photos/<photo_id>"}  # fmt: skip
    for label in ("province", "city 01", "point 0113"):
        assert expected <= seen_by[label], (label, expected - seen_by[label])
        assert "/admin/payment/orders" in seen_by[label]


def test_staff_of_other_scopes_cannot_act_on_a_candidate(
    system: System, victim: Victim, staff_of_every_scope: dict[str, Staff]
) -> None:
    engine = create_engine(system.database_url("registration"))

    def review_status() -> str:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT review_status FROM candidates WHERE candidate_no = :n"), {"n": victim.number}
            ).scalar()

    assert review_status() == "under_review"
    for who in staff_of_every_scope.values():
        if who.in_scope:
            continue
        token = csrf_of(who.session, system)
        actions = [
            (f"/admin/registration/reviews/{victim.number}", {"decision": "approve", "reason": ""}),
            (f"/admin/registration/reviews/{victim.number}", {"decision": "reject", "reason": "越权测试"}),
            (f"/admin/identity/reviews/{victim.number}", {"decision": "approve", "reason": ""}),
            (f"/admin/candidates/{victim.number}/reveal", {"purpose": "越权测试"}),
        ]
        for path, form in actions:
            resp = who.session.post(system.url(path), data={"csrf_token": token, **form}, allow_redirects=False,
                                    timeout=30)  # fmt: skip
            assert resp.status_code in (403, 404), (who.label, path, resp.status_code)
            assert victim.name not in resp.text and "1401" not in resp.text
    assert review_status() == "under_review"
    engine.dispose()


def test_another_candidate_gets_none_of_the_candidates_files_or_orders(system: System, victim: Victim) -> None:
    number, password = system.import_candidate(name="旁观者")
    other = candidate(system, number, password)
    for path in (f"/registration/documents/{victim.document_id}", f"/identity/photos/{victim.photo_id}",
                 f"/payment/orders/{victim.order_no}", f"/api/v1/payment/orders/{victim.order_no}"):  # fmt: skip
        resp = other.get(system.url(path), allow_redirects=False, timeout=20)
        assert resp.status_code in (403, 404), (path, resp.status_code)
        assert victim.number not in resp.text and victim.order_no not in resp.text.replace(path, "")
    token = hidden(other.get(system.url("/home"), timeout=20).text)["csrf_token"]
    deleted = other.post(system.url(f"/registration/documents/{victim.document_id}/delete"),
                         data={"csrf_token": token}, allow_redirects=False, timeout=20)  # fmt: skip
    assert deleted.status_code in (302, 403, 404, 409)
    own = victim.session.get(system.url(f"/registration/documents/{victim.document_id}"), timeout=20)
    assert own.status_code == 200 and own.headers["Content-Type"] == "image/jpeg"
