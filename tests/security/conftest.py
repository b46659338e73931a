"""Fixtures of the security tests: a candidate with records in every service, and staff of every scope."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass

import pytest
import requests
from PIL import Image
from sqlalchemy import create_engine, text

from tests.conftest import System, wait_for
from tests.security.client import hidden, staff
from tests.security.journey import at_documents
from zsb.common.clock import utcnow


@dataclass
class Victim:
    """A candidate of point 0113 (city 01) whose records staff elsewhere must not reach."""

    number: str
    name: str
    session: requests.Session
    document_id: str
    photo_id: str
    order_no: str


def _jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "gray").save(out, "JPEG")
    return out.getvalue()


def _one(system: System, service: str, sql: str, **params: object) -> object:
    engine = create_engine(system.database_url(service))
    try:
        with engine.begin() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def victim(system: System) -> Victim:
    """资料上传 done and submitted (under review), an identity photo, an open payment order."""
    name = "范围庚"
    number, s = at_documents(system, name)
    csrf = hidden(s.get(system.url("/registration/documents"), timeout=20).text)["csrf_token"]
    up = s.post(
        system.url("/registration/documents"),
        data={"csrf_token": csrf, "kind": "poverty_registered"},
        files={"file": ("证明.jpg", _jpeg((400, 300)), "image/jpeg")},
        allow_redirects=False,
        timeout=60,
    )
    assert up.status_code == 302, up.text[:300]
    submitted = s.post(system.url("/registration/documents/submit"), data={"csrf_token": csrf}, timeout=20)
    assert "审核中" in submitted.text
    document_id = str(_one(system, "registration", "SELECT id FROM documents WHERE candidate_no = :n", n=number))

    # Identity learns of the confirmation from registration's event.
    page = wait_for(
        lambda: (r := s.get(system.url("/identity"), timeout=20)).ok and 'name="version"' in r.text and r, timeout=600
    )
    fields = hidden(page.text)
    s.post(system.url("/identity/consent"), data={**fields, "agree": "1"}, timeout=20)
    photo = s.post(
        system.url("/identity/photos"),
        data={"csrf_token": csrf, "kind": "id_card_back"},
        files={"file": ("back.jpg", _jpeg((600, 400)), "image/jpeg")},
        allow_redirects=False,
        timeout=90,
    )
    assert photo.status_code == 302, photo.text[:300]
    photo_id = str(_one(system, "identity", "SELECT id FROM photos WHERE candidate_no = :n", n=number))

    # Payment: the confirmation arrives by event; the identity check is recorded as passed.
    wait_for(
        lambda: _one(system, "payment", "SELECT confirmed_at FROM candidates WHERE candidate_no = :n", n=number),
        timeout=600,
    )
    engine = create_engine(system.database_url("payment"))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE candidates SET identity_verified_at = :t WHERE candidate_no = :n"),
            {"t": utcnow(), "n": number},
        )
    engine.dispose()
    started = s.post(
        system.url("/payment/start"), data={"csrf_token": csrf, "provider": "wechat"}, allow_redirects=False, timeout=60
    )
    assert started.status_code == 302, started.text[:300]
    order_no = re.search(r"/payment/orders/([0-9A-Za-z]+)", started.headers["Location"])[1]
    return Victim(number, name, s, document_id, photo_id, order_no)


@dataclass
class Staff:
    label: str
    role: str
    in_scope: bool  # whether the victim (point 0113, city 01) is theirs
    session: requests.Session


@pytest.fixture(scope="session")
def staff_of_every_scope(system: System) -> dict[str, Staff]:
    tag = uuid.uuid4().hex[:6]
    specs = [
        ("province", "province", "", "", True),
        ("city 01", "city", "01", "", True),
        ("point 0113", "point", "", "0113", True),
        ("reviewer of city 01", "reviewer", "01", "", True),
        ("city 02", "city", "02", "", False),
        ("point 0101", "point", "", "0101", False),
        ("point 0201", "point", "", "0201", False),
        ("reviewer of point 0101", "reviewer", "", "0101", False),
    ]
    return {
        label: Staff(label, role, mine, staff(system, f"s{i}{tag}", role, city, point))
        for i, (label, role, city, point, mine) in enumerate(specs)
    }
