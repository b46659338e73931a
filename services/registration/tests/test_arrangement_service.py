"""The exam plan and the arrangement through the gRPC API, on SQLite and MariaDB."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.registration.adapters import AuditRow
from services.registration.documents.service import DocumentsDeps
from services.registration.documents.tables import ArrangementRow, SeatAssignmentRow
from services.registration.documents.testing import (
    candidate_form,
    candidate_no,
    documents_spec,
    qualify,
    use_documents,
)
from zsb.common.grpc_server import REASON_KEY
from zsb.common.runtime import ServiceRuntime
from zsb.common.tables import outbox
from zsb.events.v1 import registration_events_pb2 as ev
from zsb.registration.v1 import registration_pb2 as pb
from zsb.registration.v1 import registration_pb2_grpc


@dataclass
class Svc:
    runtime: ServiceRuntime
    stub: registration_pb2_grpc.RegistrationServiceStub
    bearer: Any
    deps: DocumentsDeps

    @property
    def ctx(self):
        return self.runtime.ctx

    def province(self):
        return self.bearer("province", "sheng")

    def candidate(self, number: str):
        return self.bearer("candidate", number, number[6:8], number[6:10])


@pytest.fixture
def svc(service_settings, database_url: str, bearer) -> Iterator[Svc]:
    runtime = ServiceRuntime(documents_spec(), service_settings("registration", database_url))
    deps, _ = use_documents(runtime.ctx)
    port = runtime.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Svc(runtime, registration_pb2_grpc.RegistrationServiceStub(channel), bearer, deps)
    runtime.stop(grace=0)


def refused(call, code: grpc.StatusCode, reason: str = "") -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == code, info.value.details()
    if reason:
        assert dict(info.value.trailing_metadata())[REASON_KEY] == reason, info.value.details()
    return info.value


def site(code: str, rooms: list[tuple[str, int]], city: str = "") -> pb.SaveExamSiteRequest:
    return pb.SaveExamSiteRequest(
        site=pb.ExamSite(
            code=code,
            name=f"{code}考点",
            city_code=city or code[:2],
            address="太原市小店区坞城路1号",
            rooms=[pb.ExamRoom(room_no=no, capacity=cap, location=f"{no}室") for no, cap in rooms],
        )
    )


def test_the_province_keeps_the_plan_and_its_rules(svc: Svc) -> None:
    p = svc.province()
    city = svc.bearer("city", "taiyuan", "01")
    plan = svc.stub.GetExamPlan(pb.GetExamPlanRequest(), metadata=city)  # staff read
    assert plan.settings.exam_title == "山西省普通高校专升本选拔考试" and not plan.sites
    refused(
        lambda: svc.stub.SaveExamSite(site("0101", [("001", 30)]), metadata=city), grpc.StatusCode.PERMISSION_DENIED
    )
    refused(
        lambda: svc.stub.GetExamPlan(pb.GetExamPlanRequest(), metadata=svc.candidate(candidate_no("0113", 1))),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    for bad, reason in (
        (site("0101", [("001", 0)]), "BAD_ROOM"),
        (site("0101", [("001", 30), ("001", 20)]), "BAD_ROOM"),
        (site("0101", [("00 1", 30)]), "BAD_ROOM"),
        (site("0101", [("001", 30)], city="99"), "BAD_SITE"),
        (site("!", [("001", 30)]), "BAD_SITE"),
    ):
        refused(lambda bad=bad: svc.stub.SaveExamSite(bad, metadata=p), grpc.StatusCode.INVALID_ARGUMENT, reason)
    saved = svc.stub.SaveExamSite(site("0101", [("001", 30), ("002", 25)]), metadata=p)
    assert [(s.code, s.city_name, s.capacity) for s in saved.sites] == [("0101", "太原市", 55)]
    assert saved.settings.plan_version == 1

    session = pb.ExamSession(major_category="01", subject="大学语文", day="2026-04-18", start="09:00", end="11:30")
    plan = svc.stub.SaveExamSession(pb.SaveExamSessionRequest(session=session), metadata=p)
    assert [(s.subject, s.major_category_label) for s in plan.sessions] == [("大学语文", "财经类(01)")]
    overlapping = pb.ExamSession(major_category="01", subject="英语", day="2026-04-18", start="11:00", end="12:00")
    err = refused(
        lambda: svc.stub.SaveExamSession(pb.SaveExamSessionRequest(session=overlapping), metadata=p),
        grpc.StatusCode.INVALID_ARGUMENT,
        "SESSION_OVERLAP",
    )
    assert "时间重叠" in err.details()
    backwards = pb.ExamSession(major_category="01", subject="英语", day="2026-04-18", start="15:00", end="14:00")
    refused(
        lambda: svc.stub.SaveExamSession(pb.SaveExamSessionRequest(session=backwards), metadata=p),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_SESSION",
    )
    # Title and seed; the printing window is the calendar's 准考证打印 phase, not a setting here.
    refused(
        lambda: svc.stub.SaveExamSettings(pb.ExamSettings(exam_title="考试", arrangement_seed="x"), metadata=p),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    plan = svc.stub.SaveExamSettings(
        pb.ExamSettings(exam_title="2026年山西省普通高校专升本选拔考试", arrangement_seed="seed-1"),
        metadata=p,
    )
    assert plan.settings.arrangement_seed == "seed-1" and plan.settings.updated_by == "sheng"
    assert "ticket_open_at" not in pb.ExamSettings.DESCRIPTOR.fields_by_name
    with svc.ctx.db.unit_of_work() as s:
        actions = set(s.scalars(select(AuditRow.action)))
    assert {"exam_site_saved", "exam_session_saved", "exam_settings_saved"} <= actions


def test_run_review_publish_and_what_candidates_see(svc: Svc) -> None:
    p = svc.province()
    people = [candidate_no("0113", i) for i in range(5)] + [candidate_no("0201", i) for i in range(5, 8)]
    for i, number in enumerate(people):
        point = number[6:10]
        qualify(svc.ctx, number, candidate_form(i, point=point, category="08" if i in (3, 4) else "01"))
    svc.stub.SaveExamSite(site("0101", [("001", 3), ("002", 3)]), metadata=p)
    me = svc.candidate(people[0])
    # Not enough seats: nothing is arranged, the message names the city and category short.
    err = refused(
        lambda: svc.stub.RunArrangement(pb.RunArrangementRequest(), metadata=p),
        grpc.StatusCode.FAILED_PRECONDITION,
        "CAPACITY_SHORTAGE",
    )
    assert "大同市财经类3人" in err.details()
    svc.stub.SaveExamSite(site("0201", [("001", 3)]), metadata=p)
    refused(
        lambda: svc.stub.RunArrangement(pb.RunArrangementRequest(), metadata=svc.bearer("city", "taiyuan", "01")),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    draft = svc.stub.RunArrangement(pb.RunArrangementRequest(), metadata=p)
    assert draft.status == "draft" and draft.candidates == 8 and draft.missing == 0 and draft.eligible_now == 8
    assert {(c.city_name, c.candidates, c.rooms) for c in draft.cities} == {("太原市", 5, 2), ("大同市", 3, 1)}
    assert sorted((r.site_code, r.room_no, r.major_category, r.seats_used) for r in draft.rooms) == [
        ("0101", "001", "01", 3),
        ("0101", "002", "08", 2),
        ("0201", "001", "01", 3),
    ]
    # Candidates see nothing before publication.
    mine = svc.stub.GetMyDocuments(pb.GetMyDocumentsRequest(), metadata=me)
    assert not mine.arrangement_published and not mine.HasField("seat")
    refused(
        lambda: svc.stub.DownloadForm(pb.DownloadFormRequest(kind="ticket"), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ARRANGEMENT_NOT_PUBLISHED",
    )
    # City staff review their city only.
    datong = svc.bearer("city", "datong", "02")
    seats = svc.stub.ListSeatAssignments(pb.ListSeatAssignmentsRequest(arrangement_id=draft.id), metadata=datong)
    assert seats.total == 3 and {r.candidate_no for r in seats.rows} == set(people[5:])
    assert svc.stub.GetArrangement(pb.GetArrangementRequest(), metadata=datong).candidates == 8
    assert {c.city_code for c in svc.stub.GetArrangement(pb.GetArrangementRequest(), metadata=datong).cities} == {"02"}
    refused(
        lambda: svc.stub.PublishArrangement(pb.PublishArrangementRequest(arrangement_id=draft.id), metadata=datong),
        grpc.StatusCode.PERMISSION_DENIED,
    )

    published = svc.stub.PublishArrangement(pb.PublishArrangementRequest(arrangement_id=draft.id), metadata=p)
    assert published.status == "published" and published.published_id == draft.id and published.published_by == "sheng"
    mine = svc.stub.GetMyDocuments(pb.GetMyDocumentsRequest(), metadata=me)
    assert mine.arrangement_published and mine.seat.site_code == "0101" and 1 <= mine.seat.seat_no <= 3
    refused(
        lambda: svc.stub.PublishArrangement(pb.PublishArrangementRequest(arrangement_id=draft.id), metadata=p),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_A_DRAFT",
    )
    # A room in use can neither disappear nor lose seats in use.
    refused(
        lambda: svc.stub.SaveExamSite(site("0101", [("001", 3)]), metadata=p),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ROOM_IN_USE",
    )
    refused(
        lambda: svc.stub.SaveExamSite(site("0101", [("001", 1), ("002", 3)]), metadata=p),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ROOM_IN_USE",
    )
    refused(
        lambda: svc.stub.DeleteExamSite(pb.DeleteExamSiteRequest(code="0201"), metadata=p),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ROOM_IN_USE",
    )

    # A re-run keeping the published seats moves nobody; the serials (printed tickets) stay.
    def seats_of(arrangement_id: int) -> dict[str, tuple[str, int, str]]:
        with svc.ctx.db.unit_of_work() as s:
            rows = s.scalars(select(SeatAssignmentRow).where(SeatAssignmentRow.arrangement_id == arrangement_id))
            return {r.candidate_no: (r.room_no, r.seat_no, r.ticket_serial) for r in rows}

    svc.stub.SaveExamSite(site("0101", [("001", 3), ("002", 3), ("003", 30)]), metadata=p)  # more room: allowed
    kept = svc.stub.RunArrangement(pb.RunArrangementRequest(keep_published=True), metadata=p)
    assert kept.keep_published and seats_of(kept.id) == seats_of(draft.id)
    # The plan changed after this run: it must be run again before publishing.
    svc.stub.SaveExamSite(site("0102", [("001", 30)]), metadata=p)
    assert svc.stub.GetArrangement(pb.GetArrangementRequest(arrangement_id=kept.id), metadata=p).plan_changed
    refused(
        lambda: svc.stub.PublishArrangement(pb.PublishArrangementRequest(arrangement_id=kept.id), metadata=p),
        grpc.StatusCode.FAILED_PRECONDITION,
        "PLAN_CHANGED",
    )
    again = svc.stub.RunArrangement(pb.RunArrangementRequest(keep_published=True), metadata=p)
    with svc.ctx.db.unit_of_work() as s:
        statuses = dict(s.execute(select(ArrangementRow.id, ArrangementRow.status)).all())
    assert statuses == {draft.id: "published", kept.id: "discarded", again.id: "draft"}  # one draft at a time
    second = svc.stub.PublishArrangement(pb.PublishArrangementRequest(arrangement_id=again.id), metadata=p)
    assert second.published_id == again.id
    with svc.ctx.db.unit_of_work() as s:
        assert s.get(ArrangementRow, draft.id).status == "superseded"
        events = [
            ev.ArrangementPublished.FromString(payload)
            for key, ce_type, payload in s.execute(select(outbox.c.key, outbox.c.ce_type, outbox.c.payload))
            if ce_type.endswith("ArrangementPublished")
        ]
        actions = list(s.scalars(select(AuditRow.action).where(AuditRow.subject == "arrangement")))
    assert [(e.arrangement_id, e.superseded_arrangement_id, e.candidates, e.moved) for e in events] == [
        (draft.id, 0, 8, 0),
        (again.id, draft.id, 8, 0),
    ]
    assert actions.count("arrangement_published") == 2 and actions.count("arrangement_run") == 3

    # A full re-run with another seed may move people: their new seats get new serials.
    svc.stub.SaveExamSettings(
        pb.ExamSettings(exam_title="2026年山西省普通高校专升本选拔考试", arrangement_seed="other"), metadata=p
    )
    full = svc.stub.RunArrangement(pb.RunArrangementRequest(keep_published=False), metadata=p)
    before, after = seats_of(again.id), seats_of(full.id)
    for number, (room, seat, serial) in after.items():
        assert (serial == before[number][2]) == ((room, seat) == before[number][:2])
    discarded = svc.stub.DiscardArrangement(pb.DiscardArrangementRequest(arrangement_id=full.id), metadata=p)
    assert discarded.status == "discarded" and discarded.draft_id == 0 and seats_of(full.id) == {}


def test_the_database_refuses_a_seat_used_twice(svc: Svc) -> None:
    with svc.ctx.db.unit_of_work() as s:
        from datetime import datetime

        row = ArrangementRow(
            status="draft", seed="s", plan_version=0, candidates=2, created_at=datetime(2026, 3, 1), created_by="t"
        )
        s.add(row)
        s.flush()
        arrangement_id = row.id
    seat = {
        "arrangement_id": arrangement_id,
        "city_code": "01",
        "major_category": "01",
        "site_code": "0101",
        "room_id": 1,
        "room_no": "001",
        "seat_no": 7,
    }
    with svc.ctx.db.unit_of_work() as s:
        s.add(SeatAssignmentRow(candidate_no="A", ticket_serial="a" * 24, **seat))
    with pytest.raises(IntegrityError), svc.ctx.db.unit_of_work() as s:
        s.add(SeatAssignmentRow(candidate_no="B", ticket_serial="b" * 24, **seat))
    with pytest.raises(IntegrityError), svc.ctx.db.unit_of_work() as s:  # one seat per candidate
        s.add(SeatAssignmentRow(candidate_no="A", ticket_serial="c" * 24, **{**seat, "seat_no": 8}))
    with svc.ctx.db.unit_of_work() as s:
        count = s.scalar(select(func.count()).select_from(SeatAssignmentRow))
    assert count == 1


def test_concurrent_runs_leave_one_draft_and_no_seat_twice(svc: Svc) -> None:
    p = svc.province()
    for i in range(6):
        qualify(svc.ctx, candidate_no("0113", i), candidate_form(i))
    svc.stub.SaveExamSite(site("0101", [("001", 4), ("002", 4)]), metadata=p)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            svc.stub.RunArrangement(pb.RunArrangementRequest(), metadata=p)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with svc.ctx.db.unit_of_work() as s:
        drafts = s.scalars(select(ArrangementRow.id).where(ArrangementRow.status == "draft")).all()
        assert len(drafts) == 1
        seats = s.execute(
            select(SeatAssignmentRow.room_id, SeatAssignmentRow.seat_no).where(
                SeatAssignmentRow.arrangement_id == drafts[0]
            )
        ).all()
    assert len(seats) == 6 == len(set(seats))
