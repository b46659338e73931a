"""The calendar of the year (报名、确认、支付、审核、准考证、成绩): pure rules plus a shared projection.

The registration service owns the calendar: the province sets each phase's window there, every
change is audited and published as `CalendarPhaseChanged`. Each service that enforces a phase for
its own actions keeps a local copy of the windows in a `calendar_phases` table of its own database
(`calendar_table`, filled by `apply_phase_changed` from its consumer), so it never reads another
service's database:

| phase / span | enforced by | on |
| --- | --- | --- |
| 网上报名, 信息确认, 资格审核 | registration | 填写基本信息, 确定, staff review decisions |
| 准考证打印 | registration (表格下载) | the candidate's ticket download (also needs a published arrangement) |
| 信息确认 opens → 网上支付 closes | identity (`span`) | consent, photo upload, 开始认证, 申请人工审核 |
| 网上支付 | payment | StartPayment |
| 成绩查询 | results | the candidate's scores and bands, shown once the phase has opened and ever after |

Windows are naive UTC datetimes; either end may be unset. A phase that was never set, or whose
ends are both unset, is OPEN: deployments and tests that never configure a calendar keep working.
Preference batches (志愿填报) keep their windows in the preferences service and 征集志愿 its window
in the results service (set with the vacancies); the province's calendar page shows them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, select
from sqlalchemy.orm import Session

from zsb.common.clock import to_beijing, utcnow
from zsb.common.errors import FailedPrecondition, InvalidArgument


class Phase(StrEnum):
    REGISTRATION = "registration"  # 网上报名 (notices, 填写基本信息)
    CONFIRMATION = "confirmation"  # 信息确认
    PAYMENT = "payment"  # 网上支付
    QUALIFICATION_REVIEW = "qualification_review"  # 资格审核
    TICKET_PRINTING = "ticket_printing"  # 准考证打印
    SCORE_PUBLICATION = "score_publication"  # 成绩查询


# Phases that only mean something once staff publish (the arrangement, the scores), with what
# their schedule line says until then (see `Calendar.line`).
PUBLICATION_PHASES: dict[Phase, str] = {
    Phase.TICKET_PRINTING: "考场编排发布后开放",
    Phase.SCORE_PUBLICATION: "成绩发布后开放",
}

PHASE_LABELS: dict[Phase, str] = {
    Phase.REGISTRATION: "网上报名",
    Phase.CONFIRMATION: "信息确认",
    Phase.PAYMENT: "网上支付",
    Phase.QUALIFICATION_REVIEW: "资格审核",
    Phase.TICKET_PRINTING: "准考证打印",
    Phase.SCORE_PUBLICATION: "成绩查询",
}


class PhaseState(StrEnum):
    NOT_YET = "not_yet"
    OPEN = "open"
    CLOSED = "closed"


def is_phase(value: str) -> bool:
    return value in Phase._value2member_map_


def parse_phase(value: str) -> Phase:
    try:
        return Phase(value)
    except ValueError:
        raise InvalidArgument("阶段不存在", reason="BAD_PHASE", field="phase") from None


def _text(at: datetime) -> str:
    local = to_beijing(at)
    return f"{local.year}年{local.month}月{local.day}日{local:%H:%M}"


def _short(at: datetime) -> str:
    """'3月1日09:00' in Beijing time, for the lines of a candidate's schedule."""
    local = to_beijing(at)
    return f"{local.month}月{local.day}日{local:%H:%M}"


STATUS_WORDS: dict[PhaseState, str] = {
    PhaseState.NOT_YET: "未开始",
    PhaseState.OPEN: "开放中",
    PhaseState.CLOSED: "已结束",
}
UNSCHEDULED = "时间待公布"


@dataclass(frozen=True)
class Line:
    """One line of a candidate's 报考日程, e.g. 网上报名：开放中（至3月10日17:30）."""

    label: str
    state: PhaseState
    status: str  # 未开始 | 开放中 | 已结束 | 时间待公布
    detail: str = ""  # 3月1日09:00开始 | 至3月10日17:30 | 3月10日17:30结束 | 考场编排发布后开放

    def __str__(self) -> str:
        return f"{self.label}：{self.status}" + (f"（{self.detail}）" if self.detail else "")


def window_line(label: str, state: PhaseState | None, opens_at: datetime | None, closes_at: datetime | None) -> Line:
    """The schedule line of any window (a phase, a preference batch); state None: no time set yet."""
    if state is None:
        return Line(label, PhaseState.NOT_YET, UNSCHEDULED)
    if state is PhaseState.NOT_YET:
        return Line(label, state, STATUS_WORDS[state], f"{_short(opens_at)}开始" if opens_at else "")
    if state is PhaseState.CLOSED:
        return Line(label, state, STATUS_WORDS[state], f"{_short(closes_at)}结束" if closes_at else "")
    return Line(label, state, STATUS_WORDS[state], f"至{_short(closes_at)}" if closes_at else "")


@dataclass(frozen=True)
class Window:
    """When a phase is open: [opens_at, closes_at), naive UTC; None means unbounded on that side."""

    opens_at: datetime | None = None
    closes_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise InvalidArgument("结束时间须晚于开始时间", reason="BAD_WINDOW", field="closes_at")

    @property
    def is_set(self) -> bool:
        return self.opens_at is not None or self.closes_at is not None

    def state(self, now: datetime) -> PhaseState:
        if self.opens_at is not None and now < self.opens_at:
            return PhaseState.NOT_YET
        if self.closes_at is not None and now >= self.closes_at:
            return PhaseState.CLOSED
        return PhaseState.OPEN


@dataclass(frozen=True)
class Calendar:
    """The windows of the phases that were set; a phase missing here is open."""

    windows: Mapping[Phase, Window]

    def window(self, phase: Phase) -> Window:
        return self.windows.get(phase) or Window()

    def state(self, phase: Phase, now: datetime) -> PhaseState:
        return self.window(phase).state(now)

    def describe(self, phase: Phase, now: datetime) -> str:
        """What a candidate reads, e.g. "网上报名将于2027年3月1日09:00开放"."""
        label, window = PHASE_LABELS[phase], self.window(phase)
        state = window.state(now)
        if state is PhaseState.NOT_YET:
            assert window.opens_at is not None
            return f"{label}将于{_text(window.opens_at)}开放"
        if state is PhaseState.CLOSED:
            assert window.closes_at is not None
            return f"{label}已于{_text(window.closes_at)}结束"
        if window.closes_at is not None:
            return f"{label}开放中，{_text(window.closes_at)}截止"
        return f"{label}开放中"

    def require_open(self, phase: Phase, now: datetime) -> None:
        """FailedPrecondition PHASE_CLOSED unless the phase is open now."""
        if self.state(phase, now) is not PhaseState.OPEN:
            raise FailedPrecondition(f"不在办理时间内：{self.describe(phase, now)}", reason="PHASE_CLOSED")

    def has_opened(self, phase: Phase, now: datetime) -> bool:
        """Open now or already closed: for what stays visible once published (成绩查询)."""
        return self.state(phase, now) is not PhaseState.NOT_YET

    def line(self, phase: Phase, now: datetime, published: bool | None = None) -> Line:
        """The truthful schedule line of a phase for candidates.

        For a phase that waits for staff to publish (`PUBLICATION_PHASES`), `published` says whether
        they have: False makes an open window read 未开始 (考场编排发布后开放); None (the caller cannot
        know) makes an unset window read 时间待公布 rather than 开放中.
        """
        label, window = PHASE_LABELS[phase], self.window(phase)
        state = window.state(now)
        if state is PhaseState.OPEN and phase in PUBLICATION_PHASES:
            if published is False:
                return Line(label, PhaseState.NOT_YET, STATUS_WORDS[PhaseState.NOT_YET], PUBLICATION_PHASES[phase])
            if published is None and not window.is_set:
                return window_line(label, None, None, None)
        return window_line(label, state, window.opens_at, window.closes_at)

    # --- a span across phases (身份认证: from 信息确认 to the end of 网上支付) -------------------

    def span_state(self, first: Phase, last: Phase, now: datetime) -> PhaseState:
        """Open from the opening of `first` until the close of `last`."""
        if self.state(first, now) is PhaseState.NOT_YET:
            return PhaseState.NOT_YET
        if self.state(last, now) is PhaseState.CLOSED:
            return PhaseState.CLOSED
        return PhaseState.OPEN

    def describe_span(self, label: str, first: Phase, last: Phase, now: datetime) -> str:
        state = self.span_state(first, last, now)
        if state is PhaseState.NOT_YET:
            opens = self.window(first).opens_at
            assert opens is not None
            return f"{label}将于{_text(opens)}开放"
        closes = self.window(last).closes_at
        if state is PhaseState.CLOSED:
            assert closes is not None
            return f"{label}已于{_text(closes)}结束（随{PHASE_LABELS[last]}截止）"
        if closes is not None:
            return f"{label}开放中，{_text(closes)}截止（随{PHASE_LABELS[last]}截止）"
        return f"{label}开放中"

    def require_span(self, label: str, first: Phase, last: Phase, now: datetime) -> None:
        """FailedPrecondition PHASE_CLOSED outside the span."""
        if self.span_state(first, last, now) is not PhaseState.OPEN:
            raise FailedPrecondition(
                f"不在办理时间内：{self.describe_span(label, first, last, now)}", reason="PHASE_CLOSED"
            )

    def next_opening(self, now: datetime) -> tuple[Phase, datetime] | None:
        """The phase that opens soonest after now, for "下一步何时开放"."""
        upcoming = [
            (w.opens_at, p)
            for p, w in self.windows.items()
            if w.opens_at is not None and w.state(now) is PhaseState.NOT_YET
        ]
        if not upcoming:
            return None
        at, phase = min(upcoming)
        return phase, at


# --- the shared projection --------------------------------------------------------------------


def calendar_columns() -> list[Column]:
    """Columns of `calendar_phases`, for a service's Table and for its Alembic migration."""
    return [
        Column("phase", String(30), primary_key=True),
        Column("opens_at", DateTime, nullable=True),
        Column("closes_at", DateTime, nullable=True),
        Column("version", BigInteger, nullable=False),  # the owner's change time in µs: older events are ignored
        Column("updated_at", DateTime, nullable=False),
        Column("updated_by", String(40), nullable=False, default=""),
    ]


def calendar_table(metadata: MetaData) -> Table:
    return Table("calendar_phases", metadata, *calendar_columns())


def load_calendar(session: Session, table: Table) -> Calendar:
    rows = session.execute(select(table.c.phase, table.c.opens_at, table.c.closes_at)).all()
    windows = {Phase(r.phase): Window(r.opens_at, r.closes_at) for r in rows if is_phase(r.phase)}
    return Calendar(windows)


def require_open(session: Session, table: Table, phase: Phase, now: datetime) -> None:
    """The gate a use case calls inside its transaction."""
    load_calendar(session, table).require_open(phase, now)


def _moment(ts: Timestamp) -> datetime | None:
    return ts.ToDatetime() if (ts.seconds or ts.nanos) else None


def store_phase(
    session: Session,
    table: Table,
    phase: Phase,
    window: Window,
    version: int,
    updated_at: datetime,
    updated_by: str,
) -> bool:
    """Write a phase's window unless a newer version is already there; True when written."""
    current = session.execute(select(table.c.version).where(table.c.phase == phase.value)).first()
    values = {
        "opens_at": window.opens_at,
        "closes_at": window.closes_at,
        "version": version,
        "updated_at": updated_at,
        "updated_by": updated_by[:40],
    }
    if current is None:
        session.execute(table.insert().values(phase=phase.value, **values))
        return True
    if current.version >= version:
        return False  # a replayed or out-of-order event
    session.execute(table.update().where(table.c.phase == phase.value).values(**values))
    return True


def apply_phase_changed(session: Session, table: Table, event) -> bool:
    """Consumer handler body for `CalendarPhaseChanged`; an unknown phase (a newer owner) is ignored."""
    if not is_phase(event.phase):
        return False
    window = Window(_moment(event.opens_at), _moment(event.closes_at))
    return store_phase(
        session, table, Phase(event.phase), window, event.version, _moment(event.at) or utcnow(), event.actor
    )
