"""The calendar's rules (states, Chinese text, the gate) and the shared projection's replay rules."""

from __future__ import annotations

from datetime import datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import MetaData, create_engine
from sqlalchemy.orm import Session

from zsb.common.calendar import (
    Calendar,
    Phase,
    PhaseState,
    Window,
    apply_phase_changed,
    calendar_table,
    load_calendar,
    parse_phase,
)
from zsb.common.errors import FailedPrecondition, InvalidArgument
from zsb.events.v1 import registration_events_pb2 as ev

# 2027-03-01 09:00 Beijing is 01:00 UTC.
OPENS = datetime(2027, 3, 1, 1, 0)
CLOSES = datetime(2027, 3, 10, 9, 30)
CAL = Calendar({Phase.REGISTRATION: Window(OPENS, CLOSES)})


def test_states_and_text_in_beijing_time() -> None:
    assert CAL.state(Phase.REGISTRATION, datetime(2027, 2, 28)) is PhaseState.NOT_YET
    assert CAL.describe(Phase.REGISTRATION, datetime(2027, 2, 28)) == "网上报名将于2027年3月1日09:00开放"
    assert CAL.state(Phase.REGISTRATION, OPENS) is PhaseState.OPEN
    assert CAL.describe(Phase.REGISTRATION, OPENS) == "网上报名开放中，2027年3月10日17:30截止"
    assert CAL.state(Phase.REGISTRATION, CLOSES) is PhaseState.CLOSED
    assert CAL.describe(Phase.REGISTRATION, CLOSES) == "网上报名已于2027年3月10日17:30结束"


def test_a_phase_never_set_is_open() -> None:
    assert CAL.state(Phase.PAYMENT, datetime(2000, 1, 1)) is PhaseState.OPEN
    CAL.require_open(Phase.PAYMENT, datetime(2000, 1, 1))
    assert Calendar({Phase.PAYMENT: Window(None, None)}).describe(Phase.PAYMENT, OPENS) == "网上支付开放中"


def test_require_open_refuses_outside_the_window() -> None:
    with pytest.raises(FailedPrecondition) as err:
        CAL.require_open(Phase.REGISTRATION, CLOSES)
    assert err.value.reason == "PHASE_CLOSED" and "已于2027年3月10日17:30结束" in err.value.message
    CAL.require_open(Phase.REGISTRATION, OPENS)


def test_bad_windows_and_phases() -> None:
    with pytest.raises(InvalidArgument):
        Window(CLOSES, OPENS)
    with pytest.raises(InvalidArgument):
        parse_phase("holidays")


def test_next_opening() -> None:
    cal = Calendar({Phase.PAYMENT: Window(CLOSES), Phase.CONFIRMATION: Window(OPENS)})
    assert cal.next_opening(datetime(2027, 1, 1)) == (Phase.CONFIRMATION, OPENS)
    assert cal.next_opening(CLOSES) is None


def _ts(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def test_projection_keeps_the_newest_change_whatever_the_order() -> None:
    table = calendar_table(MetaData())
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    older = ev.CalendarPhaseChanged(phase="payment", opens_at=_ts(OPENS), closes_at=_ts(CLOSES), version=10, actor="p")
    newer = ev.CalendarPhaseChanged(phase="payment", closes_at=_ts(OPENS), version=20, actor="p")
    with Session(engine) as session:
        assert apply_phase_changed(session, table, newer)
        assert not apply_phase_changed(session, table, older)  # arrives late: ignored
        assert not apply_phase_changed(session, table, newer)  # replayed: ignored
        assert not apply_phase_changed(session, table, ev.CalendarPhaseChanged(phase="future_phase", version=30))
        window = load_calendar(session, table).window(Phase.PAYMENT)
    assert window == Window(None, OPENS)


def test_schedule_lines_say_what_is_open_and_when() -> None:
    before, during = datetime(2027, 2, 28), datetime(2027, 3, 5)
    assert str(CAL.line(Phase.REGISTRATION, before)) == "网上报名：未开始（3月1日09:00开始）"
    assert str(CAL.line(Phase.REGISTRATION, during)) == "网上报名：开放中（至3月10日17:30）"
    assert str(CAL.line(Phase.REGISTRATION, CLOSES)) == "网上报名：已结束（3月10日17:30结束）"
    assert str(CAL.line(Phase.PAYMENT, during)) == "网上支付：开放中"  # never set: open


def test_a_phase_waiting_for_a_publication_is_not_shown_open() -> None:
    unset, during = Calendar({}), datetime(2027, 3, 5)
    # 准考证打印 never set: open for the gate, but no ticket exists before the arrangement is out.
    assert str(unset.line(Phase.TICKET_PRINTING, during, published=False)) == "准考证打印：未开始（考场编排发布后开放）"
    assert unset.line(Phase.TICKET_PRINTING, during, published=False).state is PhaseState.NOT_YET
    assert str(unset.line(Phase.TICKET_PRINTING, during, published=True)) == "准考证打印：开放中"
    # The owner of the calendar cannot know whether scores are out: an unset window is not "open".
    assert str(unset.line(Phase.SCORE_PUBLICATION, during)) == "成绩查询：时间待公布"
    windowed = Calendar({Phase.TICKET_PRINTING: Window(OPENS, CLOSES)})
    assert str(windowed.line(Phase.TICKET_PRINTING, datetime(2027, 2, 1), published=False)) == (
        "准考证打印：未开始（3月1日09:00开始）"
    )
    assert str(windowed.line(Phase.TICKET_PRINTING, during, published=False)) == (
        "准考证打印：未开始（考场编排发布后开放）"
    )
    assert str(windowed.line(Phase.TICKET_PRINTING, during, published=True)) == "准考证打印：开放中（至3月10日17:30）"
    assert str(windowed.line(Phase.TICKET_PRINTING, CLOSES, published=True)) == "准考证打印：已结束（3月10日17:30结束）"


def test_has_opened_stays_true_after_the_close() -> None:
    cal = Calendar({Phase.SCORE_PUBLICATION: Window(OPENS, CLOSES)})
    assert not cal.has_opened(Phase.SCORE_PUBLICATION, datetime(2027, 2, 1))
    assert cal.has_opened(Phase.SCORE_PUBLICATION, OPENS) and cal.has_opened(Phase.SCORE_PUBLICATION, CLOSES)


def test_a_span_opens_with_its_first_phase_and_closes_with_its_last() -> None:
    cal = Calendar({Phase.CONFIRMATION: Window(OPENS, datetime(2027, 3, 5)), Phase.PAYMENT: Window(None, CLOSES)})
    span = ("身份认证", Phase.CONFIRMATION, Phase.PAYMENT)
    assert cal.span_state(*span[1:], datetime(2027, 2, 1)) is PhaseState.NOT_YET
    assert cal.describe_span(*span, datetime(2027, 2, 1)) == "身份认证将于2027年3月1日09:00开放"
    # Open after 信息确认 closed, as long as 网上支付 is.
    cal.require_span(*span, datetime(2027, 3, 7))
    assert cal.describe_span(*span, datetime(2027, 3, 7)) == "身份认证开放中，2027年3月10日17:30截止（随网上支付截止）"
    with pytest.raises(FailedPrecondition) as err:
        cal.require_span(*span, CLOSES)
    assert err.value.reason == "PHASE_CLOSED"
    assert err.value.message == "不在办理时间内：身份认证已于2027年3月10日17:30结束（随网上支付截止）"
    Calendar({}).require_span(*span, CLOSES)  # nothing set: open
