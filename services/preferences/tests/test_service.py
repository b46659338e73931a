"""The preferences service through its gRPC API, on SQLite and MariaDB."""

from __future__ import annotations

from datetime import datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, select

from services.preferences.adapters import InstitutionRow, ItemRow, PlanLineRow, StaffActionRow, VersionRow
from services.preferences.service import eligibility
from services.preferences.tests.conftest import Prefs, rpc_error
from services.preferences.tests.helpers import (
    CANDIDATE,
    EIGHT,
    FAR,
    OTHER,
    PLAN,
    choices,
    key,
    make_eligible,
    plan_rows,
)
from zsb.common.tables import outbox
from zsb.events.v1 import payment_events_pb2 as payment_ev
from zsb.events.v1 import preferences_events_pb2 as ev
from zsb.preferences.v1 import preferences_pb2 as pb


def events(prefs: Prefs, ce_type: type) -> list:
    with prefs.db.unit_of_work() as session:
        rows = session.execute(
            select(outbox.c.key, outbox.c.payload).where(outbox.c.ce_type == ce_type.DESCRIPTOR.full_name)
        ).all()
    return [(k, ce_type.FromString(p)) for k, p in rows]


def ready(prefs: Prefs, *numbers: str, poverty: bool = False) -> None:
    """Plan imported, the ordinary batch open, candidates eligible."""
    assert not prefs.import_plan().errors
    prefs.open("ordinary")
    for n in numbers or (CANDIDATE,):
        make_eligible(prefs.db, n, poverty=poverty)


# ---- plan import ----


def test_import_with_bad_rows_reports_every_row_and_imports_nothing(prefs: Prefs) -> None:
    bad = [
        *PLAN[:3],
        ("普通批本科", "10108", "山西大学", "04", "法学", "04", "-3"),
        ("夜校", "x", "某校", "01", "会计学", "01", "3"),
    ]
    resp = prefs.import_plan(plan_rows(bad))
    assert [(e.row, e.field) for e in resp.errors] == [(4, "places"), (5, "batch"), (5, "institution_code")]
    assert resp.plan_version == 0
    with prefs.db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(InstitutionRow)) == 0
        assert session.scalar(select(func.count()).select_from(PlanLineRow)) == 0
    assert events(prefs, ev.EnrollmentPlanPublished) == []


def test_import_replaces_the_plan_whole_and_is_audited_and_published(prefs: Prefs) -> None:
    first = prefs.import_plan()
    assert not first.errors
    assert (first.institutions, first.majors, first.lines, first.plan_version) == (5, 12, 14, 1)
    second = prefs.import_plan(plan_rows(PLAN[:2]))
    assert (second.institutions, second.lines, second.plan_version, second.places) == (1, 2, 2, 50)
    with prefs.db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(PlanLineRow)) == 2
        actions = session.scalars(select(StaffActionRow.action)).all()
    assert actions == ["plan_imported", "plan_imported"]
    published = events(prefs, ev.EnrollmentPlanPublished)
    assert [(k, e.version, len(e.lines), e.actor) for k, e in published] == [
        ("plan", 1, 14, "prov01"),
        ("plan", 2, 2, "prov01"),
    ]


def test_only_the_province_imports_and_schedules(prefs: Prefs) -> None:
    req = pb.ImportPlanRequest(rows=plan_rows())
    city = prefs.bearer("city", "city01", "01")
    assert rpc_error(prefs.stub.ImportPlan, req, metadata=city).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(prefs.stub.ImportPlan, req, metadata=prefs.candidate()).code() == grpc.StatusCode.PERMISSION_DENIED
    assert rpc_error(prefs.stub.ImportPlan, req).code() == grpc.StatusCode.UNAUTHENTICATED
    sched = pb.ScheduleBatchRequest(code="ordinary", opens_at=1_800_000_000, closes_at=1_800_086_400)
    assert rpc_error(prefs.stub.ScheduleBatch, sched, metadata=city).code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_reimport_may_not_drop_a_major_candidates_have_filled(prefs: Prefs) -> None:
    ready(prefs)
    assert not prefs.submit(choices(("10125", "02")), key()).errors
    resp = prefs.import_plan(plan_rows([line for line in PLAN if line[1:4:2] != ("10125", "02")]))
    assert [e.message for e in resp.errors] == ["普通批本科 院校10125 专业02已有1名考生填报，新计划不能删除该专业"]
    moved = [(*line[:5], "02", line[6]) if line[1:4:2] == ("10125", "02") else line for line in PLAN]
    assert [e.message for e in prefs.import_plan(plan_rows(moved)).errors] == [
        "普通批本科 院校10125 专业02已有1名考生填报，新计划不能改变该专业的报考专业类别"
    ]
    assert (
        prefs.import_plan(plan_rows([*PLAN, ("普通批本科", "10999", "新学院", "01", "会计学", "01", "3")])).lines == 15
    )


# ---- batches ----


def test_windows_and_order_are_set_by_the_province_audited_and_published(prefs: Prefs) -> None:
    batch = prefs.open("jdlk", hours_from=2, hours_to=50)
    assert batch.state == pb.NOT_YET_OPEN and "尚未开放填报，将于" in batch.window_text
    bad = pb.ScheduleBatchRequest(code="jdlk", opens_at=batch.closes_at, closes_at=batch.opens_at)
    err = rpc_error(prefs.stub.ScheduleBatch, bad, metadata=prefs.province())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and err.details() == "结束时间须晚于开始时间"
    missing = pb.ScheduleBatchRequest(code="nope", opens_at=batch.opens_at, closes_at=batch.closes_at)
    assert rpc_error(prefs.stub.ScheduleBatch, missing, metadata=prefs.province()).code() == grpc.StatusCode.NOT_FOUND
    ordered = prefs.stub.OrderBatches(pb.OrderBatchesRequest(codes=["ordinary", "jdlk"]), metadata=prefs.province())
    assert [(b.code, b.position) for b in ordered.batches] == [("ordinary", 1), ("jdlk", 2)]
    listed = prefs.stub.ListBatches(pb.ListBatchesRequest(), metadata=prefs.candidate())
    assert [b.code for b in listed.batches] == ["ordinary", "jdlk"]
    assert listed.batches[0].state == pb.NOT_SCHEDULED and listed.batches[0].window_text == "填报时间尚未公布"
    dup = pb.OrderBatchesRequest(codes=["jdlk", "jdlk"])
    assert rpc_error(prefs.stub.OrderBatches, dup, metadata=prefs.province()).code() == grpc.StatusCode.INVALID_ARGUMENT
    actions = prefs.stub.ListStaffActions(pb.ListStaffActionsRequest(), metadata=prefs.province()).actions
    assert [(a.action, a.subject, a.actor) for a in actions] == [
        ("batches_ordered", "plan", "prov01"),
        ("batch_scheduled", "jdlk", "prov01"),
    ]
    assert "建档立卡专项批本科 填报时间：" in actions[1].detail
    changes = events(prefs, ev.EnrollmentBatchesChanged)
    assert [[b.code for b in e.batches] for _, e in changes] == [["jdlk", "ordinary"], ["ordinary", "jdlk"]]


# ---- the plan page's data ----


def test_a_candidate_sees_the_plan_of_their_own_category_searchable(prefs: Prefs) -> None:
    assert not prefs.import_plan().errors
    before = prefs.stub.GetPlan(pb.GetPlanRequest(), metadata=prefs.candidate())
    assert not before.category_known and not before.lines
    make_eligible(prefs.db, CANDIDATE, category="08", identity=False, paid=False, qualified=False)
    mine = prefs.stub.GetPlan(pb.GetPlanRequest(major_category="01"), metadata=prefs.candidate())
    assert mine.major_category == "08"  # a candidate cannot ask for another category
    assert [(line.institution_name, line.major_name, line.places) for line in mine.lines] == [
        ("太原理工大学", "计算机科学与技术", 40)
    ]
    make_eligible(prefs.db, OTHER, category="01")
    found = prefs.stub.GetPlan(pb.GetPlanRequest(query="财经"), metadata=prefs.candidate(OTHER))
    assert [(line.batch_code, line.major_name) for line in found.lines] == [
        ("jdlk", "会计学"),
        ("ordinary", "会计学"),
        ("ordinary", "金融学"),
    ]
    by_code = prefs.stub.GetPlan(
        pb.GetPlanRequest(query="1012", batch_code="ordinary"), metadata=prefs.candidate(OTHER)
    )
    assert {line.institution_code for line in by_code.lines} == {"10125", "10126"}
    wildcard = prefs.stub.GetPlan(pb.GetPlanRequest(query="%"), metadata=prefs.candidate(OTHER))
    assert not wildcard.lines
    staff = prefs.stub.GetPlan(pb.GetPlanRequest(), metadata=prefs.bearer("point", "p0113", "01", "0113"))
    assert len(staff.lines) == len(PLAN)


# ---- filling ----


def test_submission_is_saved_whole_published_and_becomes_current(prefs: Prefs) -> None:
    ready(prefs)
    resp = prefs.submit(choices(*EIGHT), key())
    assert not resp.errors and not resp.replayed
    assert resp.version.number == 1 and resp.version.current
    assert [(i.slot, i.institution_name, i.major_name) for i in resp.version.items][:2] == [
        ("A", "山西大学", "会计学"),
        ("B", "山西大学", "财务管理"),
    ]
    assert len(resp.version.items) == 8
    second = prefs.submit(choices(("10125", "01")), key())
    assert second.version.number == 2
    listed = prefs.stub.ListVersions(pb.ListVersionsRequest(batch_code="ordinary"), metadata=prefs.candidate())
    assert [(v.number, v.current, len(v.items)) for v in listed.versions] == [(2, True, 1), (1, False, 8)]
    assert listed.status.current.number == 2
    published = events(prefs, ev.PreferencesSubmitted)
    assert [(k, e.version, len(e.items), e.major_category, e.point_code) for k, e in published] == [
        (CANDIDATE, 1, 8, "01", "0113"),
        (CANDIDATE, 2, 1, "01", "0113"),
    ]


def test_rule_violations_save_nothing_and_name_each_row(prefs: Prefs) -> None:
    ready(prefs)
    bad = [
        pb.Choice(slot="A", institution_code="10108", major_code="03"),  # another category
        pb.Choice(slot="B", institution_code="10108", major_code="01", major_institution_code="10125"),
        pb.Choice(slot="D", institution_code="10108", major_code="01"),
        pb.Choice(slot="E", institution_code="10108", major_code="01"),
    ]
    resp = prefs.submit(bad, key())
    assert [(e.slot, e.message) for e in resp.errors] == [
        ("A", "平行志愿A：所选专业不属于您的报考专业类别，不能填报"),
        ("B", "平行志愿B：所选专业不属于所选院校，请重新选择专业"),
        ("C", "平行志愿C未填写：请从平行志愿A起依次填报，中间不能空缺"),
        ("E", "平行志愿E与平行志愿D的院校和专业相同，同一批次不能重复填报"),
    ]
    assert not resp.HasField("version")
    with prefs.db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(VersionRow)) == 0
        assert session.scalar(select(func.count()).select_from(ItemRow)) == 0
    assert events(prefs, ev.PreferencesSubmitted) == []


def test_the_window_must_be_open(prefs: Prefs) -> None:
    ready(prefs)
    prefs.open("ordinary", hours_from=1, hours_to=2)
    err = rpc_error(prefs.submit, choices(("10108", "01")), key())
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and err.details().startswith("本批次尚未开放填报，将于")
    form = prefs.stub.GetForm(pb.GetFormRequest(batch_code="ordinary"), metadata=prefs.candidate())
    assert not form.editable and form.read_only_reason.startswith("本批次尚未开放填报") and not form.institutions
    prefs.open("ordinary", hours_from=-2, hours_to=-1)
    err = rpc_error(prefs.submit, choices(("10108", "01")), key())
    assert "填报已于" in err.details() and "结束，不能再提交或修改" in err.details()
    prefs.stub.ScheduleBatch(pb.ScheduleBatchRequest(code="ordinary"), metadata=prefs.province())
    assert rpc_error(prefs.submit, choices(("10108", "01")), key()).details() == "本批次填报时间尚未公布，暂不能填报"


def test_only_eligible_candidates_fill_and_jdlk_only_for_poverty_registered(prefs: Prefs) -> None:
    ready(prefs, CANDIDATE)
    prefs.open("jdlk")
    err = rpc_error(prefs.submit, choices(("10108", "01")), key(), batch="jdlk")
    assert err.details() == "建档立卡专项批仅限建档立卡贫困家庭考生填报"
    make_eligible(prefs.db, OTHER, poverty=True)
    assert prefs.submit(choices(("10108", "01")), key(), number=OTHER, batch="jdlk").version.number == 1
    make_eligible(prefs.db, FAR, paid=False, qualified=False)
    err = rpc_error(prefs.submit, choices(("10108", "01")), key(), number=FAR)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == "暂不能填报志愿：报名费尚未缴纳；报考资格审核尚未通过"
    unknown = "21145101130009"
    assert "尚未完成报名信息确认" in rpc_error(prefs.submit, choices(("10108", "01")), key(), number=unknown).details()
    status = prefs.stub.GetStatus(pb.GetStatusRequest(), metadata=prefs.candidate(FAR))
    assert not status.eligibility.eligible and list(status.eligibility.missing) == [
        "报名费尚未缴纳",
        "报考资格审核尚未通过",
    ]


def test_the_form_lists_institutions_with_places_in_the_candidates_category_and_batch(prefs: Prefs) -> None:
    ready(prefs)
    form = prefs.stub.GetForm(pb.GetFormRequest(batch_code="ordinary"), metadata=prefs.candidate())
    assert form.editable and list(form.slots) == list("ABCDEFGH")
    assert [(i.code, [m.code for m in i.majors]) for i in form.institutions] == [
        ("10108", ["01", "02"]),
        ("10112", ["02"]),
        ("10125", ["01", "02"]),
        ("10126", ["01", "02", "03"]),
        ("11242", ["01"]),
    ]


def test_a_retried_submission_is_saved_once(prefs: Prefs) -> None:
    ready(prefs)
    k = key()
    first = prefs.submit(choices(("10108", "01"), ("10125", "01")), k)
    again = prefs.submit(choices(("10108", "01"), ("10125", "01")), k)
    assert again.replayed and again.version.id == first.version.id and again.version.current
    # The same page's key with other content is not a retry: it is refused, not saved.
    err = rpc_error(prefs.submit, choices(("10108", "02")), k)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == "该页面的志愿已经提交过，本次修改未保存；请核对下方志愿后再次点击“确认提交”"
    # A retry that arrives after the window closed still gets its answer.
    prefs.open("ordinary", hours_from=-2, hours_to=-1)
    assert prefs.submit(choices(("10108", "01"), ("10125", "01")), k).replayed
    with prefs.db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(VersionRow)) == 1
    assert len(events(prefs, ev.PreferencesSubmitted)) == 1
    bad_key = rpc_error(prefs.submit, choices(("10108", "01")), "short")
    assert bad_key.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_candidate_cannot_read_another_candidates_preferences(prefs: Prefs) -> None:
    ready(prefs, CANDIDATE, OTHER, FAR)
    prefs.submit(choices(("10108", "01")), key())
    theirs = pb.ListVersionsRequest(batch_code="ordinary", candidate_no=CANDIDATE)
    err = rpc_error(prefs.stub.ListVersions, theirs, metadata=prefs.candidate(OTHER))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and err.details() == "无权查看其他考生的志愿"
    own = prefs.stub.ListVersions(pb.ListVersionsRequest(batch_code="ordinary"), metadata=prefs.candidate(OTHER))
    assert not own.versions and not own.status.has_current
    # Staff see candidates of their own scope only.
    point = prefs.bearer("point", "p0113", "01", "0113")
    assert len(prefs.stub.ListVersions(theirs, metadata=point).versions) == 1
    far_point = prefs.bearer("point", "p0205", "02", "0205")
    assert rpc_error(prefs.stub.ListVersions, theirs, metadata=far_point).code() == grpc.StatusCode.PERMISSION_DENIED


# ---- the eligibility projection's rules (the handlers the consumers run) ----


def test_projection_keeps_a_pass_later_decisions_and_refunds_in_any_order(prefs: Prefs) -> None:
    def at(minutes: int) -> Timestamp:
        t = Timestamp()
        t.FromDatetime(datetime(2026, 3, 1) + timedelta(minutes=minutes))
        return t

    make_eligible(prefs.db, CANDIDATE, identity=False, paid=False, qualified=False)
    with prefs.db.unit_of_work() as session:
        eligibility.on_identity(session, CANDIDATE, True, at(1))
        eligibility.on_identity(session, CANDIDATE, False, at(2))  # another attempt failing later
        eligibility.on_qualification(session, CANDIDATE, True, at(5))
        eligibility.on_qualification(session, CANDIDATE, False, at(4))  # an older rejection arriving late
        # The refund of order R is seen before its payment; order S is paid and only its duplicate refunded.
        eligibility.on_refunded(session, payment_ev.PaymentRefunded(candidate_no=CANDIDATE, order_no="R", at=at(9)))
        eligibility.on_paid(session, payment_ev.PaymentSucceeded(candidate_no=CANDIDATE, order_no="R", paid_at=at(8)))
    status = prefs.stub.GetStatus(pb.GetStatusRequest(), metadata=prefs.candidate())
    assert list(status.eligibility.missing) == ["报名费尚未缴纳"]
    with prefs.db.unit_of_work() as session:
        eligibility.on_paid(session, payment_ev.PaymentSucceeded(candidate_no=CANDIDATE, order_no="S", paid_at=at(10)))
        extra = payment_ev.PaymentRefunded(candidate_no=CANDIDATE, order_no="T", duplicate=True, at=at(11))
        eligibility.on_refunded(session, extra)
    assert prefs.stub.GetStatus(pb.GetStatusRequest(), metadata=prefs.candidate()).eligibility.eligible
