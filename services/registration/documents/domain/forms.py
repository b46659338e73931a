"""The four documents of 表格下载 (manual 2.8.7) and when a candidate may have each."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.registration.domain.steps import NOTICE_MIN_READING, check_reading_time
from zsb.common.errors import FailedPrecondition, InvalidArgument


class FormKind(StrEnum):
    REGISTRATION = "registration"  # 报名信息登记表
    MEDICAL = "medical"  # 体检表
    BONUS = "bonus"  # 录取加分登记表
    TICKET = "ticket"  # 考生准考证

    @property
    def label(self) -> str:
        return _LABELS[self]

    def filename(self, candidate_no: str) -> str:
        return f"{candidate_no}_{self.label}.pdf"


_LABELS = {
    FormKind.REGISTRATION: "报名信息登记表",
    FormKind.MEDICAL: "体检表",
    FormKind.BONUS: "录取加分登记表",
    FormKind.TICKET: "考生准考证",
}


def parse_form_kind(value: str) -> FormKind:
    try:
        return FormKind(value)
    except ValueError:
        raise InvalidArgument("表格类别不正确", reason="BAD_FORM_KIND", field="kind") from None


def check_bonus_form(claims_bonus_points: bool) -> None:
    """录取加分登记表 is for candidates who claimed 奖励加分 in their registration."""
    if not claims_bonus_points:
        raise FailedPrecondition("您未申请奖励加分，无需下载录取加分登记表", reason="NO_BONUS_CLAIM", field="kind")


@dataclass(frozen=True)
class PledgeReading:
    """The 考生诚信考试承诺书 before the ticket: read at least 10 s by the server's clock."""

    shown_at: datetime | None = None
    acknowledged_at: datetime | None = None

    def show(self, at: datetime) -> PledgeReading:
        return self if self.shown_at is not None else replace(self, shown_at=at)

    def acknowledge(self, at: datetime) -> PledgeReading:
        if self.acknowledged_at is not None:
            return self
        check_reading_time(self.shown_at, at, NOTICE_MIN_READING)
        return replace(self, acknowledged_at=at)

    def seconds_remaining(self, now: datetime) -> int:
        if self.acknowledged_at is not None:
            return 0
        if self.shown_at is None:
            return int(NOTICE_MIN_READING.total_seconds())
        left = NOTICE_MIN_READING - (now - self.shown_at)
        return max(0, int(left.total_seconds() + 0.999))

    def check_read(self) -> None:
        if self.acknowledged_at is None:
            raise FailedPrecondition("请先阅读并同意《考生诚信考试承诺书》", reason="PLEDGE_REQUIRED", field="ticket")
