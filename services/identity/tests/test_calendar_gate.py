"""身份认证 within the calendar, on SQLite and MariaDB: a candidate's consent, photos, 开始认证 and
申请人工审核 are open from the opening of 信息确认 until the close of 网上支付.

The calendar reaches the service as registration's `CalendarPhaseChanged`, handled here by the
identity consumer's own handler inside a unit of work (as the consumer runs it) rather than through
Kafka: a closed window published to the shared topic would be replayed by other tests' consumers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from services.identity.consumers import GROUP, subscriptions
from services.identity.tests.harness import CANDIDATE, Harness
from services.identity.tests.support import ScriptedEngine, plain_photo
from zsb.common.events import Envelope
from zsb.events.v1 import registration_events_pb2 as reg_ev
from zsb.identity.v1 import identity_pb2 as pb

KINDS = ("portrait", "id_card", "id_card_back")
CLOSED = (grpc.StatusCode.FAILED_PRECONDITION, "PHASE_CLOSED")


@pytest.fixture
def h(harness_factory, database_url: str) -> Iterator[Harness]:
    yield harness_factory(ScriptedEngine(), database_url=database_url)


def at(h: Harness, **delta: float) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(h.clock() + timedelta(**delta))
    return ts


def deliver(h: Harness, event: reg_ev.CalendarPhaseChanged) -> None:
    """What the identity consumer does with the event, in its transaction."""
    [sub] = [s for s in subscriptions(h.runtime.ctx) if s.group == GROUP]
    name = reg_ev.CalendarPhaseChanged.DESCRIPTOR.full_name
    with h.runtime.ctx.db.unit_of_work() as session:
        sub.handlers[name](session, event, Envelope("test", name, "registration", "", "", b""))


def test_identity_actions_only_between_confirmation_and_the_end_of_payment(h: Harness) -> None:
    h.confirm()
    view = h.view()
    assert view.window_open and view.window_text == "身份认证开放中"  # no calendar set: open
    version = pb.GiveConsentRequest(version=view.consent.version)

    # 网上支付 is over: nothing the candidate could still pay for, so nothing to verify.
    deliver(h, reg_ev.CalendarPhaseChanged(phase="payment", closes_at=at(h, hours=-1), version=100, actor="p"))
    view = h.view()
    assert not view.window_open and not view.can_upload and not view.can_start
    assert view.window_text == "身份认证已于2026年3月6日09:00结束（随网上支付截止）"  # clock: 10:00 Beijing
    code, reason, message = h.refused("GiveConsent", version, h.candidate())
    assert (code, reason) == CLOSED and message == f"不在办理时间内：{view.window_text}"

    # A replayed older change does not reopen it; 信息确认 not open yet refuses with its opening.
    deliver(h, reg_ev.CalendarPhaseChanged(phase="payment", version=50))
    assert not h.view().window_open
    deliver(h, reg_ev.CalendarPhaseChanged(phase="payment", closes_at=at(h, days=5), version=200))
    deliver(h, reg_ev.CalendarPhaseChanged(phase="confirmation", opens_at=at(h, hours=2), version=300))
    code, reason, message = h.refused("GiveConsent", version, h.candidate())
    assert (code, reason) == CLOSED and message == "不在办理时间内：身份认证将于2026年3月6日12:00开放"

    # After 信息确认 closed, still open while 网上支付 is: the candidate who confirmed last verifies.
    deliver(
        h,
        reg_ev.CalendarPhaseChanged(
            phase="confirmation", opens_at=at(h, days=-3), closes_at=at(h, days=-1), version=400
        ),
    )
    view = h.consent()
    assert view.window_open and view.window_text.endswith("截止（随网上支付截止）")
    for kind in KINDS:
        h.upload(kind, plain_photo())
    assert h.view().can_start

    # 网上支付 closes: uploads, 开始认证 and 申请人工审核 are refused, nothing is changed.
    deliver(h, reg_ev.CalendarPhaseChanged(phase="payment", closes_at=at(h, minutes=-1), version=500))
    view = h.view()
    assert not (view.can_upload or view.can_start or view.can_request_review) and view.status == "collecting"
    for method, request in (
        ("UploadPhoto", pb.UploadPhotoRequest(kind="portrait", filename="p.jpg", data=plain_photo())),
        ("StartVerification", pb.StartVerificationRequest()),
        ("RequestManualReview", pb.RequestManualReviewRequest(reason="照片是本人近照")),
    ):
        code, reason, message = h.refused(method, request, h.candidate())
        assert (code, reason) == CLOSED and "身份认证已于" in message, method
    after = h.view()
    assert after.status == "collecting" and not after.has_current
    assert [p.id for p in after.photos] == [p.id for p in view.photos]
    assert h.events(CANDIDATE) == []

    # Reopened by a newer change: 开始认证 goes through.
    deliver(h, reg_ev.CalendarPhaseChanged(phase="payment", version=600))
    assert h.start().status == "verifying"
