"""身份认证's place in the calendar of the year (zsb.common.calendar, our own copy).

A candidate verifies identity after 信息确认 and before paying, and payment needs a verified
identity. So the candidate's identity actions (consent, photos, 开始认证, 申请人工审核) are open
from the opening of 信息确认 until the close of 网上支付: someone who confirms on the last day
of 信息确认 can still verify and pay while 网上支付 is open; after 网上支付 closes a verification
could no longer lead anywhere. Staff reviews and the worker are not gated: what a candidate
started in time is finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from services.identity.adapters import calendar_phases
from zsb.common.calendar import Phase, PhaseState, load_calendar

LABEL = "身份认证"
FIRST, LAST = Phase.CONFIRMATION, Phase.PAYMENT


@dataclass(frozen=True)
class IdentityWindow:
    open: bool
    text: str  # e.g. 身份认证开放中，2027年3月10日17:30截止（随网上支付截止）


def window(session: Session, now: datetime) -> IdentityWindow:
    calendar = load_calendar(session, calendar_phases)
    state = calendar.span_state(FIRST, LAST, now)
    return IdentityWindow(state is PhaseState.OPEN, calendar.describe_span(LABEL, FIRST, LAST, now))


def require_window(session: Session, now: datetime) -> None:
    """The gate of a candidate's identity action: FailedPrecondition PHASE_CLOSED outside the span."""
    load_calendar(session, calendar_phases).require_span(LABEL, FIRST, LAST, now)
