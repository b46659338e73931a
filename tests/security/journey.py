"""Bringing candidates of the `system` fixture to the steps the security tests attack: 资料上传
(registration documents) and the identity photos.

The notices, the basic information and 信息确认 go through the registration service's gRPC API;
identity verification and payment, which need faces and a provider, are recorded as succeeded
where registration keeps the facts those services would have published.
"""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import grpc
import requests
from sqlalchemy import create_engine, text

from services.registration.tests.helpers import basic_info, form
from tests.conftest import System, wait_for
from tests.security.client import candidate, hidden
from zsb.common.clock import utcnow
from zsb.registration.v1 import registration_pb2 as pb
from zsb.registration.v1 import registration_pb2_grpc

NOTICES = ("instructions", "discipline", "pledge")
# 身份证号 and 手机号 are unique per registration: even sequence numbers (women) here, odd ones elsewhere.
_SEQ = itertools.count(random.randrange(0, 500, 2), 2)
_PHONES = itertools.count(random.randrange(10**7, 9 * 10**7))


def _registration_db(system: System):
    return create_engine(system.database_url("registration"))


def confirmed(system: System, name: str, **form_fields: object) -> tuple[str, str]:
    """A candidate of point 0113 past 信息确认 (by default one who must upload 建档立卡材料, a field of
    `form_fields` changes the form); returns (考生号, password)."""
    seq, phone = next(_SEQ) % 1000, f"137{next(_PHONES) % 10**8:08d}"
    number, password = system.import_candidate(name=name, phone=phone)
    token = system.bearer("candidate", number, "01", "0113")
    engine = _registration_db(system)
    with system.channel("registration") as ch:
        stub = registration_pb2_grpc.RegistrationServiceStub(ch)

        def opened() -> bool:
            try:
                stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=token, timeout=5)
                return True
            except grpc.RpcError:  # not there until the account event arrives
                return False

        wait_for(opened, timeout=600)
        for notice in NOTICES:
            stub.ShowNotice(pb.ShowNoticeRequest(notice=notice), metadata=token, timeout=20)
            with engine.begin() as conn:  # the server's 10 s reading time, moved into the past
                conn.execute(
                    text("UPDATE notice_readings SET shown_at = :t WHERE candidate_no = :n AND notice = :k"),
                    {"t": utcnow() - timedelta(seconds=30), "n": number, "k": notice},
                )
            stub.AcknowledgeNotice(pb.AcknowledgeNoticeRequest(notice=notice), metadata=token, timeout=20)
        fields = {"name": name, "recipient": name, "poverty_registered": "1", **form_fields}
        raw = form(seq, phone=phone, recipient_phone=phone, **fields)
        saved = stub.SaveBasicInfo(pb.SaveBasicInfoRequest(info=basic_info(raw)), metadata=token, timeout=20)
        assert saved.saved, saved.errors
        stub.ConfirmRegistration(pb.ConfirmRegistrationRequest(), metadata=token, timeout=20)
    engine.dispose()
    return number, password


def at_documents(system: System, name: str, **form_fields: object) -> tuple[str, requests.Session]:
    """A confirmed candidate whose identity check and payment are recorded as done, so that
    资料上传 is open (or, without materials to upload, 表格下载); returns the 考生号 and a
    logged-in browser session."""
    number, password = confirmed(system, name, **form_fields)
    engine = _registration_db(system)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE candidates SET identity_status = 'succeeded', identity_at = :t, "
                "payment_status = 'succeeded', payment_at = :t WHERE candidate_no = :n"
            ),
            {"t": utcnow(), "n": number},
        )
    engine.dispose()
    return number, candidate(system, number, password)


def at_identity(system: System, name: str) -> tuple[str, requests.Session]:
    """A confirmed candidate who has agreed to the photo consent, on the identity page."""
    number, password = confirmed(system, name)
    s = candidate(system, number, password)
    # Identity learns of the confirmation from registration's event.
    page = wait_for(
        lambda: (r := s.get(system.url("/identity"), timeout=20)).ok and 'name="version"' in r.text and r, timeout=600
    )
    fields = hidden(page.text)
    resp = s.post(system.url("/identity/consent"), data={**fields, "agree": "1"}, allow_redirects=False, timeout=20)
    assert resp.status_code == 302, resp.text
    return number, s
