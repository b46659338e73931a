"""The admission through the service, on hand-made cases: batch order, control lines, ties,
full plans, dry runs and publication, 退档 and 征集志愿 (on SQLite and MariaDB)."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy import func, select

from services.results.tests.support import Harness, Person, number
from zsb.common.tables import outbox
from zsb.events.v1 import results_events_pb2 as ev
from zsb.results.v1 import results_pb2 as pb

PLAN = [
    ("jdlk", "10108", "01", "01", 1),
    ("ordinary", "10108", "01", "01", 2),
    ("ordinary", "10112", "01", "01", 2),
    ("ordinary", "10125", "03", "02", 1),
]
NAMES = {
    "10108": "山西大学",
    "10112": "太原理工大学",
    "10125": "山西财经大学",
    "10108/01": "计算机科学与技术",
    "10112/01": "计算机科学与技术",
    "10125/03": "会计学",
}
LINES = {"jdlk": {"01": 150, "02": 140}, "ordinary": {"01": 160, "02": 150}}
BOTH = [("10108", "01"), ("10112", "01")]


def people() -> dict[str, Person]:
    return {
        "c1": Person(number(1), "01", 116, 120, jdlk=True, prefs={"jdlk": [("10108", "01")], "ordinary": BOTH}),
        "c2": Person(number(2), "01", 112, 118, bonus=10, prefs={"ordinary": BOTH}),  # 230 + 10
        "c3": Person(number(3), "01", 111, 125, prefs={"ordinary": BOTH}),  # 236, 专业课 125
        "c4": Person(number(4), "01", 116, 120, prefs={"ordinary": BOTH}),  # 236, 专业课 120
        "c5": Person(number(5), "02", 95, 95, prefs={"ordinary": [("10108", "01"), ("10125", "03")]}),
        "c6": Person(number(6), "01", 75, 75, prefs={"ordinary": [("10112", "01")]}),  # below the line
        "c7": Person(number(7), "01", 115, 115, prefs={"ordinary": [("10112", "01")]}),
        "c8": Person(number(8), "01", 110, 115, prefs={"ordinary": BOTH}),
    }


def refused(call, code: grpc.StatusCode, reason: str = "") -> str:
    with pytest.raises(grpc.RpcError) as err:
        call()
    assert err.value.code() == code, err.value.details()
    if reason:
        assert dict(err.value.trailing_metadata())["x-error-reason"] == reason
    return err.value.details()


def events(h: Harness, message_cls) -> list:
    with h.db.unit_of_work() as session:
        rows = session.execute(
            select(outbox.c.payload).where(outbox.c.ce_type == message_cls.DESCRIPTOR.full_name).order_by(outbox.c.seq)
        ).scalars()
        return [message_cls.FromString(p) for p in rows]


def test_batches_lines_ties_returns_and_solicitation(any_db_harness: Harness) -> None:
    h = any_db_harness
    p = people()
    h.plan(PLAN, NAMES)
    for person in p.values():
        h.confirm(person)
    stub, prov = h.stub(), h.province()

    # Nothing is visible before publication.
    before = h.results(p["c1"].no)
    assert not before.HasField("scores") and not before.HasField("admission")
    refused(lambda: h.run(), grpc.StatusCode.FAILED_PRECONDITION, "SCORES_NOT_PUBLISHED")

    h.publish_scores(p.values())
    card = h.results(p["c1"].no).scores
    assert (card.total, card.bonus_points, card.admission_total, card.rank) == (236, 0, 236, 2)
    assert [(s.name, s.points) for s in card.subjects] == [("公共课", 116), ("专业课", 120)]
    assert card.category_candidates == 7
    c2 = h.results(p["c2"].no).scores
    assert (c2.total, c2.bonus_points, c2.admission_total, c2.rank) == (230, 10, 240, 1)

    # Missing control lines are reported, then the settings are saved.
    refused(lambda: h.run(), grpc.StatusCode.INVALID_ARGUMENT, "admission_input_invalid")
    h.settings(LINES, solicitation={"jdlk": False})

    # Phase 0: 建档立卡专项批 — a dry run is inspected, discarded, run again and published.
    dry = h.run()
    assert (dry.status, dry.phase_index, dry.label, dry.candidates, dry.dispatched) == (
        "dry",
        0,
        "建档立卡专项批本科",
        8,
        1,
    )
    assert not h.results(p["c1"].no).HasField("admission")  # dry runs are invisible
    assert (
        "已投档: 建档立卡专项批本科 平行志愿A 10108 山西大学 01 计算机科学与技术"
        in h.explain(dry.id, p["c1"].no).explanation
    )
    stub.DiscardRun(pb.DiscardRunRequest(run_id=dry.id), metadata=prov)
    refused(lambda: h.explain(dry.id, p["c1"].no), grpc.StatusCode.NOT_FOUND)
    run0 = h.run()
    h.publish_run(run0.id)
    adm = h.results(p["c1"].no).admission
    assert adm.dispatched and (adm.batch_code, adm.slot, adm.institution_name) == ("jdlk", "平行志愿A", "山西大学")
    assert not adm.admitted  # no review window has passed yet
    refused(lambda: h.publish_run(run0.id), grpc.StatusCode.FAILED_PRECONDITION, "ALREADY_PUBLISHED")

    # Phase 1: 普通批本科. The 建档立卡 candidate placed first takes no part.
    run1 = h.run()
    plans = h.plans(run1.id)
    assert (plans[(1, "10108", "01")].dispatched, plans[(1, "10108", "01")].lowest_dispatched) == (2, 236)
    assert (plans[(1, "10112", "01")].dispatched, plans[(1, "10112", "01")].lowest_dispatched) == (2, 230)
    assert plans[(1, "10125", "03")].dispatched == 1

    def said(key: str) -> str:
        return h.explain(run1.id, p[key].no).explanation

    assert said("c2").startswith("已投档: 普通批本科 平行志愿A 10108")
    assert said("c3").startswith("已投档: 普通批本科 平行志愿A 10108")  # tie on 236, 专业课 decides
    assert "平行志愿A 已满: 最低投档分 236（同分，排序在后）；平行志愿B 投档" in said("c4")
    assert "平行志愿A 无效: 该院校专业不招收 02 考生；平行志愿B 投档" in said("c5")
    assert "投档总分 150 低于 01 控制线 160" in said("c6")
    assert said("c7").startswith("已投档: 普通批本科 平行志愿A 10112")
    assert "平行志愿A 已满: 最低投档分 236；平行志愿B 已满: 最低投档分 230；所填志愿均未能投档" in said("c8")
    assert said("c1").startswith("已投档: 建档立卡专项批本科")
    h.publish_run(run1.id)

    # Review window: 退档 with a reason; only candidates dispatched in this phase.
    refused(
        lambda: stub.ReturnCandidate(
            pb.ReturnCandidateRequest(candidate_no=p["c7"].no, reason="体检不合格"), metadata=prov
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "REVIEW_CLOSED",
    )
    h.review_window(1)
    refused(
        lambda: stub.ReturnCandidate(pb.ReturnCandidateRequest(candidate_no=p["c7"].no, reason=" "), metadata=prov),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_REASON",
    )
    stub.ReturnCandidate(pb.ReturnCandidateRequest(candidate_no=p["c7"].no, reason="体检不合格"), metadata=prov)
    refused(
        lambda: stub.ReturnCandidate(pb.ReturnCandidateRequest(candidate_no=p["c7"].no, reason="再退"), metadata=prov),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ALREADY_RETURNED",
    )
    refused(
        lambda: stub.ReturnCandidate(pb.ReturnCandidateRequest(candidate_no=p["c8"].no, reason="x"), metadata=prov),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_DISPATCHED_HERE",
    )
    refused(
        lambda: stub.ReturnCandidate(pb.ReturnCandidateRequest(candidate_no=p["c1"].no, reason="x"), metadata=prov),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_DISPATCHED_HERE",
    )
    c7 = h.results(p["c7"].no).admission
    assert c7.returned and c7.return_reason == "体检不合格" and not c7.dispatched
    assert [r.candidate_no for r in stub.ListReturns(pb.ListReturnsRequest(), metadata=prov).returns] == [p["c7"].no]

    # 征集志愿: vacancies only once the review is over.
    refused(lambda: h.open_solicitation("ordinary"), grpc.StatusCode.FAILED_PRECONDITION, "REVIEW_NOT_CLOSED")
    h.close_windows(1)
    assert h.results(p["c3"].no).admission.admitted  # the review passed without 退档
    h.open_solicitation("ordinary")
    vacancies = stub.ListVacancies(pb.ListVacanciesRequest(batch_code="ordinary"), metadata=prov).vacancies
    assert [(v.institution_code, v.major_code, v.vacancies) for v in vacancies if v.vacancies] == [("10112", "01", 1)]

    def form(key: str) -> pb.SolicitationForm:
        return stub.GetSolicitationForm(
            pb.GetSolicitationFormRequest(batch_code="ordinary"), metadata=h.candidate(p[key].no)
        )

    def fill(key: str, inst: str, major: str) -> pb.SubmitSolicitationResponse:
        req = pb.SubmitSolicitationRequest(
            batch_code="ordinary", choices=[pb.SolicitationChoice(slot="A", institution_code=inst, major_code=major)]
        )
        return stub.SubmitSolicitation(req, metadata=h.candidate(p[key].no))

    c8_form = form("c8")
    assert c8_form.editable and [(v.institution_code, v.vacancies) for v in c8_form.vacancies] == [("10112", 1)]
    assert not form("c6").info.eligible and "控制线" in form("c6").info.reason
    assert not form("c3").info.eligible and "已投档" in form("c3").info.reason
    c7_form = form("c7")
    assert c7_form.info.eligible and (c7_form.barred_institution_code, c7_form.barred_major_code) == ("10112", "01")
    assert [e.message for e in fill("c7", "10112", "01").errors] == ["不能填报已将您退档的院校专业"]
    assert [e.message for e in fill("c8", "10108", "01").errors] == ["该院校专业不在征集计划中或已无缺额"]
    assert fill("c8", "10112", "01").version == 1
    refused(lambda: fill("c3", "10112", "01"), grpc.StatusCode.FAILED_PRECONDITION, "NOT_ELIGIBLE")

    # Phase 2: 普通批本科征集志愿, by the same rules; published after the filling window.
    run2 = h.run()
    assert run2.label == "普通批本科征集志愿"
    refused(lambda: h.publish_run(run2.id), grpc.StatusCode.FAILED_PRECONDITION, "SOLICITATION_NOT_CLOSED")
    h.close_windows(1)
    # The filling window is over: 征集志愿 can no longer be changed, and the refusal says since when.
    closed = refused(lambda: fill("c8", "10108", "01"), grpc.StatusCode.FAILED_PRECONDITION, "WINDOW_CLOSED")
    assert closed.startswith("普通批本科征集志愿填报已于") and closed.endswith("结束，不能再提交或修改")
    assert not form("c8").editable
    h.publish_run(run2.id)
    c8 = h.results(p["c8"].no).admission
    assert (
        c8.final
        and c8.dispatched
        and (c8.stage, c8.slot, c8.institution_code) == ("solicitation", "征集志愿A", "10112")
    )
    c7 = h.results(p["c7"].no).admission
    assert not c7.dispatched and "被退档: 体检不合格" in c7.explanation
    assert "未投档" in h.results(p["c6"].no).admission.explanation
    refused(lambda: h.run(), grpc.StatusCode.FAILED_PRECONDITION, "ALL_PUBLISHED")

    # Events: only published data, per candidate and per phase.
    phases = events(h, ev.AdmissionPhasePublished)
    assert [(e.batch_code, e.stage, e.final) for e in phases] == [
        ("jdlk", "regular", False),
        ("ordinary", "regular", False),
        ("ordinary", "solicitation", True),
    ]
    results = events(h, ev.AdmissionResultPublished)
    placed = [(e.candidate_no, e.batch_code, e.stage) for e in results if e.dispatched]
    assert sorted(placed) == sorted(
        [
            (p["c1"].no, "jdlk", "regular"),
            (p["c2"].no, "ordinary", "regular"),
            (p["c3"].no, "ordinary", "regular"),
            (p["c4"].no, "ordinary", "regular"),
            (p["c5"].no, "ordinary", "regular"),
            (p["c7"].no, "ordinary", "regular"),
            (p["c8"].no, "ordinary", "solicitation"),
        ]
    )
    assert sorted(e.candidate_no for e in results if not e.dispatched) == [p["c6"].no, p["c7"].no]
    assert [(e.candidate_no, e.reason) for e in events(h, ev.CandidateReturned)] == [(p["c7"].no, "体检不合格")]
    scores = {e.candidate_no: e for e in events(h, ev.ScoresPublished)}
    assert (scores[p["c2"].no].admission_total, scores[p["c2"].no].rank) == (240, 1)
    actions = [a.action for a in stub.ListStaffActions(pb.ListStaffActionsRequest(), metadata=prov).actions]
    for action in (
        "scores_imported",
        "scores_published",
        "settings_saved",
        "run_started",
        "run_discarded",
        "run_published",
        "review_window_set",
        "candidate_returned",
        "solicitation_opened",
    ):
        assert action in actions
    with h.db.unit_of_work() as session:
        staff_events = session.execute(
            select(func.count()).where(outbox.c.ce_type == ev.ResultsStaffAction.DESCRIPTOR.full_name)
        ).scalar_one()
    assert staff_events == len(actions)
