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
