"""The calendar through the registration API: only the province sets it, every change is audited
and published, and 填写基本信息, 信息确认 and review decisions are refused outside their phases.

Every test leaves the phases it closed open again: the relay publishes these events to the shared
topic, where other tests' consumers replay them (the newest change wins).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import pairwise

import grpc
import pytest
from sqlalchemy import select

from services.registration.adapters import AuditRow
from services.registration.tests.helpers import form, publish_outbox_now
from services.registration.tests.test_service import ME, Reg, refused
from services.registration.tests.test_service import reg as reg
from zsb.registration.v1 import registration_pb2 as pb

HOUR = 3600


@pytest.fixture
def cal(reg: Reg) -> Iterator[Reg]:  # noqa: F811
    yield reg
    for phase in ("registration", "confirmation", "qualification_review"):
        reg.stub.SetCalendarPhase(pb.SetCalendarPhaseRequest(phase=phase), metadata=reg.staff("province"))
    publish_outbox_now(reg.runtime)


def set_phase(r: Reg, phase: str, opens: int = 0, closes: int = 0) -> pb.CalendarView:
    req = pb.SetCalendarPhaseRequest(phase=phase, opens_at=opens, closes_at=closes)
    return r.stub.SetCalendarPhase(req, metadata=r.staff("province"))


def phases(view: pb.CalendarView) -> dict[str, pb.CalendarPhase]:
    return {p.phase: p for p in view.phases}


def test_only_the_province_sets_the_calendar(cal: Reg) -> None:
    req = pb.SetCalendarPhaseRequest(phase="registration", opens_at=int(time.time()) + HOUR)
    for role, city, point in (("city", "01", ""), ("point", "01", "0113"), ("reviewer", "01", "")):
        md = cal.staff(role, city, point)
        refused(
            lambda md=md: cal.stub.SetCalendarPhase(req, metadata=md),
            grpc.StatusCode.PERMISSION_DENIED,
            "ROLE_REQUIRED",
        )
    cal.candidate()
    refused(lambda: cal.stub.SetCalendarPhase(req, metadata=cal.md()), grpc.StatusCode.PERMISSION_DENIED)
    refused(
        lambda: set_phase(cal, "registration", int(time.time()) + HOUR, int(time.time())),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_WINDOW",
    )
    refused(lambda: set_phase(cal, "holidays"), grpc.StatusCode.INVALID_ARGUMENT, "BAD_PHASE")
    # Nothing was set: every phase is open, and anyone (no token) may read the calendar.
    view = cal.stub.GetCalendar(pb.GetCalendarRequest())
    assert {p.state for p in view.phases} == {"open"} and len(view.phases) == 6
    assert not [e for e in cal.events() if e[1] == "CalendarPhaseChanged"]


def test_phases_gate_the_form_the_confirmation_and_the_review(cal: Reg) -> None:
    now = int(time.time())
    cal.candidate()
    cal.read_notices()
    view = set_phase(cal, "registration", now + 2 * HOUR, now + 10 * HOUR)
    shown = phases(cal.stub.GetCalendar(pb.GetCalendarRequest()))["registration"]
    assert shown.state == "not_yet" and shown.text.startswith("网上报名将于") and shown.text.endswith("开放")
    assert shown.updated_by == "province-" and view.next_text == shown.text
    err = refused(lambda: cal.save(form()), grpc.StatusCode.FAILED_PRECONDITION, "PHASE_CLOSED")
    assert "网上报名将于" in err.details()

    set_phase(cal, "registration", now - HOUR, now + HOUR)
    assert cal.save(form()).saved
    set_phase(cal, "confirmation", now - 2 * HOUR, now - HOUR)
    assert phases(cal.stub.GetCalendar(pb.GetCalendarRequest()))["confirmation"].text.startswith("信息确认已于")
    refused(
        lambda: cal.stub.ConfirmRegistration(pb.ConfirmRegistrationRequest(), metadata=cal.md()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "PHASE_CLOSED",
    )
    set_phase(cal, "confirmation")  # unset again: open
    confirmed = cal.stub.ConfirmRegistration(pb.ConfirmRegistrationRequest(), metadata=cal.md())
    assert confirmed.status == "confirmed"

    set_phase(cal, "qualification_review", now + HOUR)
    decide = pb.DecideReviewRequest(candidate_no=ME, approve=True)
    refused(
        lambda: cal.stub.DecideReview(decide, metadata=cal.staff("point", "01", "0113")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "PHASE_CLOSED",
    )

    # Every change audited and published, with growing versions.
    with cal.db.unit_of_work() as session:
        audited = session.execute(
            select(AuditRow.action, AuditRow.subject, AuditRow.actor_role).where(AuditRow.action == "calendar_changed")
        ).all()
    assert [a.subject for a in audited] == [
        "registration",
        "registration",
        "confirmation",
        "confirmation",
        "qualification_review",
    ]
    assert {a.actor_role for a in audited} == {"province"}
    changes = [e for _, name, e in cal.events() if name == "CalendarPhaseChanged"]
    assert [c.phase for c in changes] == [a.subject for a in audited]
    assert all(a.version < b.version for a, b in pairwise(changes))
    assert changes[0].opens_at.seconds == now + 2 * HOUR and not changes[3].HasField("opens_at")
