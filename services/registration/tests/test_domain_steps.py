"""Unit tests of the step machine of 我的报考 and of the qualification review inside it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from services.registration.domain import (
    NOTICE_ORDER,
    REPORT_LOCK_MESSAGE,
    STEP_ORDER,
    DocumentKind,
    FactStatus,
    Notice,
    QualificationStatus,
    Registration,
    RegistrationStatus,
    Step,
    StepState,
    check_reading_time,
    is_report_locked,
)
from zsb.common.errors import DomainError, FailedPrecondition, InvalidArgument

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def states(reg: Registration) -> dict[Step, StepState]:
    return {view.step: view.state for view in reg.steps()}


def refused(action: Callable[[], object], reason: str) -> FailedPrecondition:
    with pytest.raises(FailedPrecondition) as info:
        action()
    assert info.value.reason == reason
    assert info.value.message  # Chinese text for the candidate
    return info.value


def read_notices(reg: Registration, start: datetime = T0) -> Registration:
    at = start
    for notice in NOTICE_ORDER:
        reg = reg.show_notice(notice, at)
        at += 10 * S
        reg = reg.acknowledge_notice(notice, at)
    return reg


def confirmed(required: frozenset[DocumentKind] = frozenset()) -> Registration:
    reg = read_notices(Registration())
    reg = reg.submit_basic_info(T0 + 60 * S, report_locked=False)
    return reg.confirm(required, T0 + 70 * S)


def paid(required: frozenset[DocumentKind] = frozenset()) -> Registration:
    return confirmed(required).record_identity_verified(T0 + 80 * S).record_payment_succeeded(T0 + 90 * S)


# --- the flow chart --------------------------------------------------------------------------------


def test_a_new_registration() -> None:
    reg = Registration()
    assert reg.status is RegistrationStatus.NOT_STARTED
    assert reg.current_step is Step.NOTICE
    assert states(reg) == {
        step: StepState.AVAILABLE if step is Step.NOTICE else StepState.LOCKED for step in STEP_ORDER
    }
    assert [v.step.label for v in reg.steps()] == [
        "报考须知",
        "填写基本信息",
        "信息确认",
        "身份认证",
        "网上支付",
        "资料上传",
        "表格下载",
    ]


def test_the_whole_way_for_a_candidate_needing_no_documents() -> None:
    reg = read_notices(Registration())
    assert reg.status is RegistrationStatus.IN_PROGRESS
    assert states(reg)[Step.NOTICE] is StepState.DONE and reg.current_step is Step.BASIC_INFO
    reg = reg.submit_basic_info(T0 + 60 * S, report_locked=False)
    assert reg.current_step is Step.CONFIRM
    reg = reg.confirm(frozenset(), T0 + 70 * S)
    assert reg.status is RegistrationStatus.CONFIRMED
    assert reg.qualification.status is QualificationStatus.APPROVED and reg.qualification.automatic
    assert reg.current_step is Step.IDENTITY
    assert states(reg)[Step.QUALIFICATION] is StepState.LOCKED  # decided, but grey until reached
    reg = reg.record_identity_verified(T0 + 80 * S)
    assert reg.current_step is Step.PAYMENT
    reg = reg.record_payment_succeeded(T0 + 90 * S)
    assert states(reg)[Step.QUALIFICATION] is StepState.DONE
    assert reg.status is RegistrationStatus.COMPLETED
    assert states(reg)[Step.FORMS] is StepState.AVAILABLE
    reg = reg.record_forms_downloaded(T0 + 100 * S)
    assert set(states(reg).values()) == {StepState.DONE}
    assert reg.record_forms_downloaded(T0 + 200 * S).forms_downloaded_at == T0 + 100 * S


def test_steps_cannot_be_skipped() -> None:
    reg = Registration()
    error = refused(lambda: reg.submit_basic_info(T0, report_locked=False), "STEP_NOT_OPEN")
    assert error.message == "请先完成“报考须知”"
    refused(lambda: reg.confirm(frozenset(), T0), "STEP_NOT_OPEN")
    refused(lambda: reg.submit_documents([], T0), "STEP_NOT_OPEN")
    refused(lambda: reg.record_forms_downloaded(T0), "STEP_NOT_OPEN")
    reg = read_notices(reg)
    assert refused(lambda: reg.confirm(frozenset(), T0), "STEP_NOT_OPEN").message == "请先完成“填写基本信息”"
    reg = confirmed({DocumentKind.CONSCRIPT})
    error = refused(lambda: reg.check_can_change_documents(DocumentKind.CONSCRIPT), "STEP_NOT_OPEN")
    assert error.message == "请先完成“身份认证”"
    reg = reg.record_identity_verified(T0)
    assert (
        refused(lambda: reg.submit_documents([DocumentKind.CONSCRIPT], T0), "STEP_NOT_OPEN").message
        == "请先完成“网上支付”"
    )


# --- 报考须知: the server-side countdown -------------------------------------------------------------


def test_each_notice_needs_ten_seconds() -> None:
    reg = Registration().show_notice(Notice.INSTRUCTIONS, T0)
    error = refused(lambda: reg.acknowledge_notice(Notice.INSTRUCTIONS, T0 + 9 * S), "NOTICE_TOO_SOON")
    assert error.message == "请认真阅读，1秒后才能确认"
    refused(lambda: reg.acknowledge_notice(Notice.INSTRUCTIONS, T0 + timedelta(seconds=9.999)), "NOTICE_TOO_SOON")
    assert "10秒" in refused(lambda: reg.acknowledge_notice(Notice.INSTRUCTIONS, T0), "NOTICE_TOO_SOON").message
    refused(lambda: reg.acknowledge_notice(Notice.INSTRUCTIONS, T0 - 5 * S), "NOTICE_TOO_SOON")  # clock skew
    done = reg.acknowledge_notice(Notice.INSTRUCTIONS, T0 + 10 * S)  # exactly ten seconds is enough
    assert done.reading(Notice.INSTRUCTIONS).acknowledged_at == T0 + 10 * S


def test_notices_are_read_in_order() -> None:
    reg = Registration()
    error = refused(lambda: reg.show_notice(Notice.PLEDGE, T0), "STEP_NOT_OPEN")
    assert error.message == "请先阅读并确认“报考须知”"
    reg = reg.show_notice(Notice.INSTRUCTIONS, T0)
    refused(lambda: reg.show_notice(Notice.DISCIPLINE, T0 + S), "STEP_NOT_OPEN")  # shown but not acknowledged
    refused(lambda: reg.acknowledge_notice(Notice.DISCIPLINE, T0 + 60 * S), "NOTICE_NOT_SHOWN")
    reg = reg.acknowledge_notice(Notice.INSTRUCTIONS, T0 + 10 * S)
    reg = reg.show_notice(Notice.DISCIPLINE, T0 + 11 * S)
    refused(lambda: reg.acknowledge_notice(Notice.DISCIPLINE, T0 + 20 * S), "NOTICE_TOO_SOON")
    assert states(reg)[Step.NOTICE] is StepState.AVAILABLE
    assert [Notice.INSTRUCTIONS.button, Notice.DISCIPLINE.button, Notice.PLEDGE.button] == [
        "我已知晓",
        "我已知晓",
        "我同意",
    ]


def test_a_reload_keeps_the_first_shown_time_and_acknowledging_twice_is_harmless() -> None:
    reg = Registration().show_notice(Notice.INSTRUCTIONS, T0)
    reg = reg.show_notice(Notice.INSTRUCTIONS, T0 + 8 * S)
    assert reg.reading(Notice.INSTRUCTIONS).shown_at == T0
    reg = reg.acknowledge_notice(Notice.INSTRUCTIONS, T0 + 10 * S)
    again = reg.acknowledge_notice(Notice.INSTRUCTIONS, T0 + 11 * S)
    assert again == reg
    assert reg.show_notice(Notice.INSTRUCTIONS, T0 + 99 * S) == reg  # re-reading changes nothing


def test_check_reading_time_is_a_pure_function() -> None:
    check_reading_time(T0, T0 + 10 * S)
    check_reading_time(T0, T0 + 3 * S, minimum=3 * S)
    with pytest.raises(FailedPrecondition):
        check_reading_time(None, T0)
    with pytest.raises(FailedPrecondition) as info:
        check_reading_time(T0, T0 + timedelta(seconds=2.5))
    assert info.value.message == "请认真阅读，8秒后才能确认"


# --- editing and the report lock -------------------------------------------------------------------


def test_editing_until_confirmation() -> None:
    reg = read_notices(Registration()).submit_basic_info(T0 + 60 * S, report_locked=False)
    reg = reg.submit_basic_info(T0 + 61 * S, report_locked=False)  # back from 信息确认 to 修改
    assert reg.basic_info_submitted_at == T0 + 61 * S
    reg = reg.confirm(frozenset(), T0 + 70 * S)
    assert (
        refused(lambda: reg.check_editable(report_locked=False), "ALREADY_CONFIRMED").message
        == "报名信息已确认，不能修改"
    )
    refused(lambda: reg.submit_basic_info(T0 + 80 * S, report_locked=False), "ALREADY_CONFIRMED")
    assert reg.confirm(frozenset({DocumentKind.CONSCRIPT}), T0 + 90 * S) == reg  # confirming twice is harmless


def test_no_editing_after_the_point_or_city_reported() -> None:
    reg = read_notices(Registration())
    error = refused(lambda: reg.submit_basic_info(T0 + 60 * S, report_locked=True), "REPORT_LOCKED")
    assert error.message == REPORT_LOCK_MESSAGE
    reg = reg.submit_basic_info(T0 + 60 * S, report_locked=False)
    refused(lambda: reg.check_editable(report_locked=True), "REPORT_LOCKED")


def test_report_lock_by_point_or_city() -> None:
    assert is_report_locked("0113", reported_points=["0113"], reported_cities=[])
    assert is_report_locked("0113", reported_points=[], reported_cities=["01"])
    assert not is_report_locked("0113", reported_points=["0112", "0213"], reported_cities=["02", "11"])


# --- facts from identity and payment ---------------------------------------------------------------


def test_identity_failure_is_red_and_can_be_retried() -> None:
    reg = confirmed().record_identity_failed(T0 + 80 * S, "人脸比对未通过")
    view = next(v for v in reg.steps() if v.step is Step.IDENTITY)
    assert (view.state, view.note) == (StepState.FAILED, "人脸比对未通过")
    assert states(reg)[Step.PAYMENT] is StepState.LOCKED
    reg = reg.record_identity_verified(T0 + 90 * S)
    assert states(reg)[Step.IDENTITY] is StepState.DONE and reg.identity.at == T0 + 90 * S


def test_success_is_final_and_repeated_facts_change_nothing() -> None:
    reg = paid()
    assert reg.record_identity_failed(T0 + 500 * S, "late") == reg
    assert reg.record_payment_failed(T0 + 500 * S, "late") == reg
    assert reg.record_identity_verified(T0 + 500 * S) == reg  # redelivered event: first time kept
    assert reg.record_payment_succeeded(T0 + 500 * S) == reg


def test_payment_failure_is_red() -> None:
    reg = confirmed().record_identity_verified(T0).record_payment_failed(T0 + S)
    view = next(v for v in reg.steps() if v.step is Step.PAYMENT)
    assert (view.state, view.note) == (StepState.FAILED, "支付未成功")
    assert reg.payment.status is FactStatus.FAILED


def test_facts_arriving_early_are_kept_and_shown_once_reached() -> None:
    reg = Registration().record_payment_succeeded(T0).record_identity_verified(T0)
    assert states(reg)[Step.PAYMENT] is StepState.LOCKED
    reg = read_notices(reg).submit_basic_info(T0 + 60 * S, report_locked=False).confirm(frozenset(), T0 + 70 * S)
    assert states(reg)[Step.PAYMENT] is StepState.DONE
    assert reg.status is RegistrationStatus.COMPLETED


# --- 资料上传 (报考资格审核) ---------------------------------------------------------------------------


def test_review_with_rejection_and_upload_again() -> None:
    needed = frozenset({DocumentKind.CONSCRIPT, DocumentKind.BONUS_POINTS})
    reg = paid(needed)
    assert reg.qualification.status is QualificationStatus.PENDING_UPLOAD
    view = next(v for v in reg.steps() if v.step is Step.QUALIFICATION)
    assert (view.state, view.note) == (StepState.AVAILABLE, "待上传")
    reg.check_can_change_documents(DocumentKind.CONSCRIPT)
    error = refused(lambda: reg.check_can_change_documents(DocumentKind.POVERTY_REGISTERED), "DOCUMENT_NOT_REQUIRED")
    assert error.message == "您无需上传建档立卡材料"
    error = refused(lambda: reg.submit_documents([DocumentKind.CONSCRIPT], T0), "DOCUMENTS_MISSING")
    assert error.message == "请先上传奖励加分材料"
    assert (
        refused(lambda: reg.submit_documents([], T0), "DOCUMENTS_MISSING").message == "请先上传义务兵材料、奖励加分材料"
    )
    refused(lambda: reg.approve_qualification(T0), "REVIEW_NOT_PENDING")  # nothing submitted yet

    reg = reg.submit_documents(needed, T0 + 100 * S)
    assert reg.qualification.status is QualificationStatus.UNDER_REVIEW
    refused(lambda: reg.check_can_change_documents(DocumentKind.CONSCRIPT), "REVIEW_NOT_EDITABLE")
    refused(lambda: reg.submit_documents(needed, T0), "REVIEW_NOT_EDITABLE")

    with pytest.raises(InvalidArgument) as info:
        reg.reject_qualification("  ", T0)
    assert info.value.message == "请填写审核不通过原因"
    reg = reg.reject_qualification("义务兵退役证扫描件不清晰", T0 + 200 * S)
    view = next(v for v in reg.steps() if v.step is Step.QUALIFICATION)
    assert (view.state, view.note) == (StepState.FAILED, "义务兵退役证扫描件不清晰")
    assert reg.status is RegistrationStatus.CONFIRMED
    refused(lambda: reg.reject_qualification("again", T0), "REVIEW_NOT_PENDING")

    reg.check_can_change_documents(DocumentKind.CONSCRIPT)  # upload again after a rejection
    reg = reg.submit_documents(needed, T0 + 300 * S)
    assert reg.qualification.status is QualificationStatus.UNDER_REVIEW
    with pytest.raises(InvalidArgument, match="请填写认定的奖励加分"):
        reg.approve_qualification(T0 + 400 * S)  # 奖励加分 claimed: the grant must be stated
    reg = reg.approve_qualification(T0 + 400 * S, "5")
    assert reg.qualification.status is QualificationStatus.APPROVED and reg.qualification.reason == ""
    assert reg.qualification.bonus_points == 5
    assert not reg.qualification.automatic
    assert reg.status is RegistrationStatus.COMPLETED
    refused(lambda: reg.approve_qualification(T0), "REVIEW_NOT_PENDING")
    refused(lambda: reg.check_can_change_documents(DocumentKind.CONSCRIPT), "REVIEW_NOT_EDITABLE")


def test_rejection_reason_limits() -> None:
    reg = paid(frozenset({DocumentKind.POVERTY_REGISTERED})).submit_documents([DocumentKind.POVERTY_REGISTERED], T0)
    with pytest.raises(InvalidArgument):
        reg.reject_qualification("不" * 201, T0)
    with pytest.raises(InvalidArgument):
        reg.reject_qualification("材料\x00不清晰", T0)


# --- 放弃报名 --------------------------------------------------------------------------------------


def test_abandoning_ends_the_registration() -> None:
    reg = paid(frozenset({DocumentKind.CONSCRIPT})).abandon(T0 + 500 * S)
    assert reg.status is RegistrationStatus.ABANDONED
    for action in [
        lambda: reg.show_notice(Notice.INSTRUCTIONS, T0),
        lambda: reg.acknowledge_notice(Notice.PLEDGE, T0),
        lambda: reg.submit_basic_info(T0, report_locked=False),
        lambda: reg.confirm(frozenset(), T0),
        lambda: reg.check_can_change_documents(DocumentKind.CONSCRIPT),
        lambda: reg.submit_documents([DocumentKind.CONSCRIPT], T0),
        lambda: reg.approve_qualification(T0),
        lambda: reg.reject_qualification("x", T0),
        lambda: reg.record_forms_downloaded(T0),
        lambda: reg.abandon(T0),
    ]:
        assert refused(action, "ABANDONED").message == "您已放弃报名，不能继续操作"
    # Facts from other services are still recorded (the payment issue refunds on the abandonment).
    assert reg.record_payment_failed(T0, "x") == reg
    assert Registration().abandon(T0).status is RegistrationStatus.ABANDONED


# --- properties: whatever happens, the flow chart stays well-formed ---------------------------------

actions = st.sampled_from(
    [
        "show0",
        "show1",
        "show2",
        "ack0",
        "ack1",
        "ack2",
        "submit",
        "submit_locked",
        "confirm_none",
        "confirm_docs",
        "identity_ok",
        "identity_fail",
        "pay_ok",
        "pay_fail",
        "upload_submit",
        "approve",
        "reject",
        "download",
        "abandon",
    ]
)


def apply(reg: Registration, action: str, at: datetime) -> Registration:
    docs = [DocumentKind.CONSCRIPT]
    table = {
        "submit": lambda: reg.submit_basic_info(at, report_locked=False),
        "submit_locked": lambda: reg.submit_basic_info(at, report_locked=True),
        "confirm_none": lambda: reg.confirm(frozenset(), at),
        "confirm_docs": lambda: reg.confirm(frozenset(docs), at),
        "identity_ok": lambda: reg.record_identity_verified(at),
        "identity_fail": lambda: reg.record_identity_failed(at, "x"),
        "pay_ok": lambda: reg.record_payment_succeeded(at),
        "pay_fail": lambda: reg.record_payment_failed(at, "x"),
        "upload_submit": lambda: reg.submit_documents(docs, at),
        "approve": lambda: reg.approve_qualification(at),
        "reject": lambda: reg.reject_qualification("不清晰", at),
        "download": lambda: reg.record_forms_downloaded(at),
        "abandon": lambda: reg.abandon(at),
    }
    if action[:-1] in {"show", "ack"}:
        notice = NOTICE_ORDER[int(action[-1])]
        method = reg.show_notice if action.startswith("show") else reg.acknowledge_notice
        return method(notice, at)
    return table[action]()


HAPPY = ["show0", "ack0", "show1", "ack1", "show2", "ack2", "submit", "confirm", "identity_ok", "pay_ok"]
HAPPY_TAIL = ["upload_submit", "reject", "upload_submit", "approve", "download"]


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[str, int]]:
    """Random actions interleaved with the happy path, so that runs also get far into the wizard."""
    confirm = draw(st.sampled_from(["confirm_none", "confirm_docs"]))
    happy = iter([confirm if a == "confirm" else a for a in HAPPY + HAPPY_TAIL])
    script = []
    for _ in range(draw(st.integers(0, 40))):
        following = next(happy, None) if draw(st.booleans()) else None
        script.append((following, 10) if following else (draw(actions), draw(st.integers(0, 30))))
    return script


@given(scripts())
@settings(max_examples=300)
def test_property_the_flow_chart_is_always_a_done_prefix(script: list[tuple[str, int]]) -> None:
    reg, at = Registration(), T0
    for action, seconds in script:
        at += seconds * S
        before = reg
        try:
            reg = apply(reg, action, at)
        except DomainError as exc:
            assert exc.message and exc.reason
            assert reg is before
        views = reg.steps()
        kinds = [v.state for v in views]
        done = 0
        while done < len(kinds) and kinds[done] is StepState.DONE:
            done += 1
        rest = kinds[done:]
        assert all(k is StepState.LOCKED for k in rest[1:])
        if rest:
            assert rest[0] in {StepState.AVAILABLE, StepState.FAILED}
            assert reg.current_step is views[done].step
        for step in STEP_ORDER:
            assert reg.is_open(step) == (STEP_ORDER.index(step) <= done)
        if reg.confirmed_at is not None:
            assert reg.basic_info_submitted_at is not None and reg.qualification is not None
        if reg.basic_info_submitted_at is not None:
            assert all(reg.reading(n).acknowledged_at for n in NOTICE_ORDER)
        for notice in NOTICE_ORDER:
            reading = reg.reading(notice)
            if reading.acknowledged_at is not None:
                assert reading.acknowledged_at - reading.shown_at >= 10 * S
        if before.abandoned:
            assert reg.abandoned
    event(f"reached {reg.status}")  # `pytest --hypothesis-show-statistics` shows how far runs get


def test_naive_utc_times_as_the_databases_store_them() -> None:
    start = T0.replace(tzinfo=None)
    reg = read_notices(Registration(), start)
    assert reg.reading(Notice.PLEDGE).acknowledged_at == start + 30 * S
    with pytest.raises(FailedPrecondition):
        Registration().show_notice(Notice.INSTRUCTIONS, start).acknowledge_notice(Notice.INSTRUCTIONS, start + 9 * S)
