"""身份认证 pages through the gateway, against real auth, registration and identity services in-process.

The identity service runs its own worker thread; most tests give it a scripted engine (the
service's rules are the subject), one the real model. Its events stay in its outbox here
(see services/identity/tests/harness.py); the Kafka path is tested in the services' own tests.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.tests.conftest import CANDIDATE, Stack
from gateway.tests.test_registration_pages import candidate, post, read_notices, save, second_candidate, staff, text
from services.auth.main import SPEC as AUTH
from services.identity.tests.harness import Harness, make_harness
from services.identity.tests.support import ScriptedEngine, card_back, face_photo, plain_photo, real_engine
from services.identity.tests.test_calendar_gate import at, deliver
from services.registration.main import SPEC as REGISTRATION
from services.registration.tests.helpers import form
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import Settings
from zsb.events.v1 import identity_events_pb2 as ev
from zsb.events.v1 import registration_events_pb2 as reg_ev

START_BUTTON = ">开始认证</button>"
REVIEW_BUTTON = ">申请人工审核</button>"
PHOTO_LINK = re.compile(r'src="(/identity/photos/[0-9a-f]{32})"')
ADMIN_PHOTO_LINK = re.compile(r'src="(/admin/identity/photos/[0-9a-f]{32})"')


class IdStack(Stack):
    registration: ServiceRuntime
    identity: Harness
    engine: Any


def build(service_settings, sqlite_url: str, tmp_path: Path, bearer, engine: Any) -> IdStack:
    auth_settings = service_settings("auth", sqlite_url)
    auth = ServiceRuntime(AUTH, auth_settings)
    registration = ServiceRuntime(REGISTRATION, service_settings("registration", f"sqlite:///{tmp_path / 'reg.db'}"))
    auth_port, reg_port = auth.start(), registration.start()
    identity = make_harness(
        service_settings,
        bearer,
        f"sqlite:///{tmp_path / 'identity.db'}",
        engine,
        worker_enabled=True,
        worker_poll_seconds=0.05,
    )
    app = create_app(
        Settings(
            service_name="gateway",
            secret_key="test-secret",
            service_addresses=(
                f"auth=127.0.0.1:{auth_port},registration=127.0.0.1:{reg_port},identity=127.0.0.1:{identity.runtime.port}"
            ),
        )
    )
    app.config["TESTING"] = True
    stack = IdStack(app, auth, Path(auth_settings.captcha_answer_sink), Path(auth_settings.sms_sink_path), bearer)
    stack.registration, stack.identity, stack.engine = registration, identity, engine
    return stack


@pytest.fixture
def stack_factory(service_settings, sqlite_url: str, tmp_path: Path, bearer) -> Iterator:
    made: list[IdStack] = []

    def make(engine: Any) -> IdStack:
        made.append(build(service_settings, sqlite_url, tmp_path, bearer, engine))
        return made[-1]

    yield make
    for s in made:
        s.identity.close()
        s.identity.runtime.stop(grace=0)
        s.registration.stop(grace=0)
        s.auth.stop(grace=0)


def confirmed_candidate(s: IdStack) -> FlaskClient:
    """Logged in, 报考须知 read, the form saved and confirmed; identity has heard of the confirmation."""
    client = candidate(s)
    read_notices(s, client)
    assert save(client, form()).status_code == 302
    assert post(client, "/registration/confirm").status_code == 302
    s.identity.confirm(CANDIDATE)
    return client


def consent(client: FlaskClient) -> None:
    page = text(client.get("/identity"))
    version = re.search(r'name="version" value="([^"]+)"', page).group(1)
    assert post(client, "/identity/consent", {"version": version, "agree": "1"}, page="/identity").status_code == 302


def upload(client: FlaskClient, kind: str, data: bytes, name: str = "photo.jpg"):
    return post(
        client,
        "/identity/photos",
        {"kind": kind, "file": (io.BytesIO(data), name)},
        page="/identity",
        content_type="multipart/form-data",
    )


def wait_for_result(client: FlaskClient) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = client.get("/api/v1/identity/status").get_json()
        if not state["verifying"]:
            return state
        time.sleep(0.1)
    raise AssertionError("the verification never finished")


def test_consent_uploads_progress_and_the_result(stack_factory) -> None:
    engine = ScriptedEngine(gate=threading.Event())  # each comparison waits until the test opens the gate
    s = stack_factory(engine)
    client = candidate(s)
    read_notices(s, client)
    save(client, form())
    blocked = client.get("/identity")
    assert blocked.status_code == 302 and "blocked=identity" in blocked.headers["Location"]
    post(client, "/registration/confirm")
    # Registration's event has not reached identity yet: the page says so instead of failing.
    assert "请先在“我的报考”中完成“信息确认”" in text(client.get("/identity"))
    s.identity.confirm(CANDIDATE)

    page = text(client.get("/identity"))
    for words in ("照片采集与使用说明", "采集哪些信息", "为什么采集", "保存多久", "180天", "同意并继续"):
        assert words in page
    assert 'type="file"' not in page
    forged = upload(client, "portrait", plain_photo())
    assert forged.status_code == 409 and "请先阅读照片采集说明" in text(forged)
    version = re.search(r'name="version" value="([^"]+)"', page).group(1)
    unchecked = post(client, "/identity/consent", {"version": version}, page="/identity")
    assert unchecked.status_code == 400 and "请勾选" in text(unchecked)
    consent(client)
    page = text(client.get("/identity"))
    assert "您已于" in page and page.count('type="file"') == 3 and START_BUTTON not in page

    lie = upload(client, "portrait", b"#!/bin/sh\necho hi\n", "me.jpg")
    assert lie.status_code == 400 and re.search(r'id="err-portrait"[^>]*>文件类型不符', text(lie))
    for kind in ("portrait", "id_card"):
        assert upload(client, kind, plain_photo()).status_code == 302
    assert upload(client, "id_card_back", card_back()).status_code == 302
    page = text(client.get("/identity"))
    links = PHOTO_LINK.findall(page)
    assert len(links) == 3 and START_BUTTON in page
    own = client.get(links[0])
    assert own.status_code == 200 and own.mimetype == "image/jpeg" and "no-store" in own.headers["Cache-Control"]
    assert second_candidate(s).get(links[0]).status_code == 404
    assert client.get("/identity/photos/not-an-id").status_code == 404

    assert post(client, "/identity/start", page="/identity").status_code == 302
    page = text(client.get("/identity"))
    assert "认证中" in page and 'data-status-url="/api/v1/identity/status"' in page
    assert '<noscript><meta http-equiv="refresh"' in page and 'type="file"' not in page
    state = client.get("/api/v1/identity/status").get_json()
    assert state["verifying"] and state["status"] == "verifying"
    assert "已开始认证" in text(client.get("/identity?done=started"))  # where 开始认证 leads, while it runs
    engine.gate.set()
    assert wait_for_result(client)["status"] == "passed"
    page = text(client.get("/identity"))
    assert "身份认证通过" in page and "继续办理网上支付" in page and 'type="file"' not in page
    # The same address once the check is over (the no-script refresh reloads it): the result, not "please wait".
    over = text(client.get("/identity?done=started"))
    assert "已开始认证" not in over and over.count("继续办理网上支付</a>") == 1
    assert [type(e) for e in s.identity.events()] == [ev.IdentityVerified]


def test_a_failed_comparison_goes_to_staff_in_scope_who_decide_with_a_reason(stack_factory) -> None:
    s = stack_factory(ScriptedEngine(verdicts=["failed"]))
    client = confirmed_candidate(s)
    consent(client)
    for kind in ("portrait", "id_card", "id_card_back"):
        upload(client, kind, plain_photo())
    post(client, "/identity/start", page="/identity")
    assert wait_for_result(client)["status"] == "manual_review"
    page = text(client.get("/identity"))
    assert "身份认证失败：证件照与身份证照片不一致，已转人工审核" in page and "审核人员将核对" in page
    assert START_BUTTON not in page and REVIEW_BUTTON not in page

    reviewer = staff(s, "point0113", "point", point="0113")
    assert "身份认证审核" in text(reviewer.get("/admin"))
    queue = text(reviewer.get("/admin/identity/reviews"))
    assert CANDIDATE in queue and "人脸比对不一致" in queue and "0.910" in queue
    detail = text(reviewer.get(f"/admin/identity/reviews/{CANDIDATE}"))
    photos = ADMIN_PHOTO_LINK.findall(detail)
    assert len(photos) == 3 and "0.910" in detail and "0.55" in detail
    assert all(word in detail for word in ("证件照", "身份证人像面", "身份证国徽面", "审核通过", "审核不通过"))
    assert reviewer.get(photos[0]).data[:2] == b"\xff\xd8"
    # Staff of another point: neither the queue entry, the case, nor the photos.
    outsider = staff(s, "point0102", "point", point="0102")
    assert CANDIDATE not in text(outsider.get("/admin/identity/reviews"))
    assert outsider.get(f"/admin/identity/reviews/{CANDIDATE}").status_code == 403
    assert outsider.get(photos[0]).status_code == 403
    assert client.get(photos[0]).status_code == 302  # a candidate's session opens no staff URL

    no_reason = post(reviewer, f"/admin/identity/reviews/{CANDIDATE}", {"decision": "reject"}, page="/admin")
    assert no_reason.status_code == 400 and 'id="reason-error"' in text(no_reason)
    rejected = post(
        reviewer,
        f"/admin/identity/reviews/{CANDIDATE}",
        {"decision": "reject", "reason": "证件照非本人"},
        page="/admin",
    )
    assert rejected.status_code == 302
    page = text(client.get("/identity"))
    assert "人工审核未通过：证件照非本人" in page and page.count('type="file"') == 3 and START_BUTTON in page

    # The path without face recognition: 申请人工审核 with a reason.
    empty = post(client, "/identity/review", {"reason": ""}, page="/identity")
    assert empty.status_code == 400 and 'id="reason-error"' in text(empty)
    assert post(client, "/identity/review", {"reason": "已更换为本人近照"}, page="/identity").status_code == 302
    assert "已申请人工审核" in text(client.get("/identity"))
    queue = text(reviewer.get("/admin/identity/reviews"))
    assert "考生申请人工审核" in queue
    approved = post(
        reviewer, f"/admin/identity/reviews/{CANDIDATE}", {"decision": "approve", "reason": "已核对"}, page="/admin"
    )
    assert approved.status_code == 302
    assert "身份认证已通过人工审核" in text(client.get("/identity"))
    log = text(reviewer.get("/admin/identity/audit"))
    assert "identity_rejected" in log and "identity_approved" in log and "photo_viewed" in log
    events = s.identity.events()
    assert [type(e).__name__ for e in events if type(e).__name__ != "IdentityStaffAction"] == [
        "IdentityVerificationFailed",
        "IdentityManuallyRejected",
        "IdentityManualReviewRequested",
        "IdentityManuallyApproved",
    ]
    # Each staff decision and photo view also went to the platform's audit log.
    audited = [e.action for e in events if type(e).__name__ == "IdentityStaffAction"]
    assert {"identity_rejected", "identity_approved", "photo_viewed"} <= set(audited)


def test_outside_the_calendar_the_page_says_when_and_refuses_with_that_message(stack_factory) -> None:
    s = stack_factory(ScriptedEngine())
    client = confirmed_candidate(s)
    consent(client)
    # 网上支付 closed an hour ago (the identity service's clock): 身份认证 closed with it.
    deliver(s.identity, reg_ev.CalendarPhaseChanged(phase="payment", closes_at=at(s.identity, hours=-1), version=1))
    page = text(client.get("/identity"))
    assert "身份认证已于2026年3月6日09:00结束（随网上支付截止）" in page and 'type="file"' not in page
    refused = upload(client, "portrait", plain_photo())
    assert refused.status_code == 409
    assert "不在办理时间内：身份认证已于2026年3月6日09:00结束（随网上支付截止）" in text(refused)
    assert post(client, "/identity/start", page="/identity").status_code == 409


def test_posts_without_the_csrf_token_are_refused(stack_factory) -> None:
    s = stack_factory(ScriptedEngine())
    client = confirmed_candidate(s)
    assert client.post("/identity/consent", data={"agree": "1"}).status_code == 403
    assert client.post("/identity/start").status_code == 403
    assert client.post("/identity/review", data={"reason": "x"}).status_code == 403
    reviewer = staff(s, "sheng", "province")
    assert reviewer.post(f"/admin/identity/reviews/{CANDIDATE}", data={"decision": "approve"}).status_code == 403


def test_the_real_model_through_the_pages(stack_factory) -> None:
    s = stack_factory(real_engine())
    client = confirmed_candidate(s)
    consent(client)
    couple = upload(client, "portrait", face_photo("couple.jpg"), "couple.jpg")
    assert couple.status_code == 400 and "证件照中检测到多张人脸，请上传仅含本人的单人照片" in text(couple)
    assert upload(client, "portrait", face_photo("img8.jpg")).status_code == 302
    assert upload(client, "id_card", face_photo("img9.jpg")).status_code == 302
    assert upload(client, "id_card_back", card_back()).status_code == 302
    post(client, "/identity/start", page="/identity")
    assert wait_for_result(client)["status"] == "passed"
    assert "身份认证通过" in text(client.get("/identity"))
