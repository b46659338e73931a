"""The batches (批次) and their filling windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from zsb.common.calendar import Line, PhaseState, window_line
from zsb.common.clock import beijing_text


@dataclass(frozen=True)
class BatchDef:
    code: str
    name: str
    poverty_only: bool


# The codes the results service's admission engine uses too.
JDLK = BatchDef("jdlk", "建档立卡专项批本科", poverty_only=True)
ORDINARY = BatchDef("ordinary", "普通批本科", poverty_only=False)
BATCHES: tuple[BatchDef, ...] = (JDLK, ORDINARY)
BY_CODE = {b.code: b for b in BATCHES}


def resolve_batch(raw: str) -> BatchDef | None:
    """A batch named by its code or its Chinese name (as import files carry it)."""
    value = (raw or "").strip()
    for b in BATCHES:
        if value in (b.code, b.name):
            return b
    return None


class WindowState(IntEnum):
    """Values match the `WindowState` enum of the gRPC contract."""

    NOT_SCHEDULED = 1
    NOT_YET_OPEN = 2
    OPEN = 3
    CLOSED = 4


@dataclass(frozen=True)
class Window:
    opens_at: datetime | None  # naive UTC
    closes_at: datetime | None

    def state(self, now: datetime) -> WindowState:
        if self.opens_at is None or self.closes_at is None:
            return WindowState.NOT_SCHEDULED
        if now < self.opens_at:
            return WindowState.NOT_YET_OPEN
        if now >= self.closes_at:
            return WindowState.CLOSED
        return WindowState.OPEN

    def text(self, now: datetime) -> str:
        """What the page says about the window, in Beijing time."""
        state = self.state(now)
        if state is WindowState.NOT_SCHEDULED:
            return "填报时间尚未公布"
        assert self.opens_at is not None and self.closes_at is not None
        span = f"{beijing_text(self.opens_at)} 至 {beijing_text(self.closes_at)}"
        if state is WindowState.NOT_YET_OPEN:
            return f"尚未开放填报，将于 {beijing_text(self.opens_at)} 开放（填报时间：{span}）"
        if state is WindowState.CLOSED:
            return f"填报已于 {beijing_text(self.closes_at)} 结束"
        return f"正在填报，填报时间：{span}"

    def line(self, label: str, now: datetime) -> Line:
        """The batch's line in a candidate's 报考日程, worded like the calendar's phases."""
        state = self.state(now)
        if state is WindowState.NOT_SCHEDULED:
            return window_line(label, None, None, None)
        as_phase = {WindowState.NOT_YET_OPEN: PhaseState.NOT_YET, WindowState.OPEN: PhaseState.OPEN}
        return window_line(label, as_phase.get(state, PhaseState.CLOSED), self.opens_at, self.closes_at)

    def closed_reason(self, now: datetime) -> str:
        """Why a submission is refused now; '' while the window is open."""
        state = self.state(now)
        if state is WindowState.OPEN:
            return ""
        if state is WindowState.NOT_SCHEDULED:
            return "本批次填报时间尚未公布，暂不能填报"
        assert self.opens_at is not None and self.closes_at is not None
        if state is WindowState.NOT_YET_OPEN:
            return f"本批次尚未开放填报，将于 {beijing_text(self.opens_at)} 开放"
        return f"本批次填报已于 {beijing_text(self.closes_at)} 结束，不能再提交或修改"


MAX_WINDOW_DAYS = 120


def check_window(opens_at: datetime | None, closes_at: datetime | None) -> str:
    """'' when the window is acceptable, else why not (both unset clears it)."""
    if opens_at is None and closes_at is None:
        return ""
    if opens_at is None or closes_at is None:
        return "请同时填写开始时间和结束时间"
    if closes_at <= opens_at:
        return "结束时间须晚于开始时间"
    if (closes_at - opens_at).days > MAX_WINDOW_DAYS:
        return f"填报时间不能超过{MAX_WINDOW_DAYS}天"
    return ""
