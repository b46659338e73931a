"""The step machine of 我的报考 (manual 2.8).

Steps in order: 报考须知, 填写基本信息, 信息确认, 身份认证, 网上支付, 资料上传 (报考资格审核), 表格下载.
A step opens only when every step before it is done. `Registration` is an immutable value: each
transition returns a new one or raises `FailedPrecondition` with a Chinese message and a reason
code. Identity and payment advance only on facts that those services publish; the facts are
recorded whenever they arrive (a consumer must never fail on a true fact) and shown in their step
once it is reached. Times come from the caller's server clock: naive UTC, as `zsb.common.clock.utcnow`
gives (any one convention works, as long as it is not mixed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from services.registration.domain.documents import (
    BONUS_POINTS_MAX,
    DocumentKind,
    QualificationReview,
    QualificationStatus,
)
from zsb.common.errors import FailedPrecondition

NOTICE_MIN_READING = timedelta(seconds=10)


class RegistrationStatus(StrEnum):
    """Where a candidate's registration stands, for lists and filters; `Registration.steps` has the detail."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"  # reading the notices or filling in the form
    CONFIRMED = "confirmed"  # 信息确认 done; identity, payment and review may be pending
    COMPLETED = "completed"  # every step up to the review passed: the forms can be downloaded
    ABANDONED = "abandoned"  # 放弃报名


class Step(StrEnum):
    NOTICE = "notice"
    BASIC_INFO = "basic_info"
    CONFIRM = "confirm"
    IDENTITY = "identity"
    PAYMENT = "payment"
    QUALIFICATION = "qualification"
    FORMS = "forms"

    @property
    def label(self) -> str:
        return _STEP_LABELS[self]


_STEP_LABELS = {
    Step.NOTICE: "报考须知",
    Step.BASIC_INFO: "填写基本信息",
    Step.CONFIRM: "信息确认",
    Step.IDENTITY: "身份认证",
    Step.PAYMENT: "网上支付",
    Step.QUALIFICATION: "资料上传",
    Step.FORMS: "表格下载",
}
STEP_ORDER: tuple[Step, ...] = tuple(Step)


class StepState(StrEnum):
    DONE = "done"  # green
    FAILED = "failed"  # red: the step was tried and failed; it can be tried again
    AVAILABLE = "available"  # open: every step before it is done
    LOCKED = "locked"  # grey: not reachable yet


@dataclass(frozen=True)
class StepView:
    step: Step
    state: StepState
    note: str = ""  # e.g. the reason of a failure, for the flow chart's tooltip


class Notice(StrEnum):
    """The three texts of 报考须知 (2.8.1), read in this order."""

    INSTRUCTIONS = "instructions"  # 报考须知, button 我已知晓
    DISCIPLINE = "discipline"  # 教育考试违规处理办法, button 我已知晓
    PLEDGE = "pledge"  # 考生承诺书, button 我同意

    @property
    def label(self) -> str:
        return _NOTICE_LABELS[self][0]

    @property
    def button(self) -> str:
        return _NOTICE_LABELS[self][1]


_NOTICE_LABELS = {
    Notice.INSTRUCTIONS: ("报考须知", "我已知晓"),
    Notice.DISCIPLINE: ("教育考试违规处理办法", "我已知晓"),
    Notice.PLEDGE: ("考生承诺书", "我同意"),
}
NOTICE_ORDER: tuple[Notice, ...] = tuple(Notice)


def check_reading_time(
    shown_at: datetime | None, acknowledged_at: datetime, minimum: timedelta = NOTICE_MIN_READING
) -> None:
    """The server-side countdown: acknowledging needs `minimum` since the text was first shown."""
    if shown_at is None:
        raise FailedPrecondition("请先阅读该须知", reason="NOTICE_NOT_SHOWN")
    elapsed = acknowledged_at - shown_at
    if elapsed < minimum:
        remaining = max(1, int((minimum - elapsed).total_seconds() + 0.999))
        raise FailedPrecondition(f"请认真阅读，{remaining}秒后才能确认", reason="NOTICE_TOO_SOON")


@dataclass(frozen=True)
class NoticeReading:
    shown_at: datetime | None = None
    acknowledged_at: datetime | None = None


class FactStatus(StrEnum):
    """What another service told us about identity verification or payment."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Fact:
    status: FactStatus = FactStatus.PENDING
    at: datetime | None = None
    reason: str = ""  # why it failed, as the other service reported it

    def succeeded(self, at: datetime) -> Fact:
        # Success is final: a late failure (e.g. a retry that failed before the success was
        # delivered) must not undo it, and a repeated success keeps the first time.
        return self if self.status is FactStatus.SUCCEEDED else Fact(FactStatus.SUCCEEDED, at)

    def failed(self, at: datetime, reason: str) -> Fact:
        return self if self.status is FactStatus.SUCCEEDED else Fact(FactStatus.FAILED, at, reason)


def is_report_locked(point_code: str, reported_points: Iterable[str], reported_cities: Iterable[str]) -> bool:
    """2.8.2.5: the form is read-only once the candidate's 报名点, or the city it belongs to, has reported."""
    return point_code in set(reported_points) or point_code[:2] in set(reported_cities)


REPORT_LOCK_MESSAGE = "您所在的报名点或地市已上报数据，报名信息不能修改。如需修改，请联系报名点。"


@dataclass(frozen=True)
class Registration:
    """One candidate's progress through 我的报考."""

    notices: dict[Notice, NoticeReading] = field(default_factory=dict)
    basic_info_submitted_at: datetime | None = None
    confirmed_at: datetime | None = None
    identity: Fact = Fact()
    payment: Fact = Fact()
    qualification: QualificationReview | None = None  # set by confirm()
    forms_downloaded_at: datetime | None = None
    abandoned_at: datetime | None = None

    # --- reading ---------------------------------------------------------------------------

    def reading(self, notice: Notice) -> NoticeReading:
        return self.notices.get(notice, NoticeReading())

    @property
    def abandoned(self) -> bool:
        return self.abandoned_at is not None

    def _done(self, step: Step) -> bool:
        match step:
            case Step.NOTICE:
                return all(self.reading(n).acknowledged_at for n in NOTICE_ORDER)
            case Step.BASIC_INFO:
                return self.basic_info_submitted_at is not None
            case Step.CONFIRM:
                return self.confirmed_at is not None
            case Step.IDENTITY:
                return self.identity.status is FactStatus.SUCCEEDED
            case Step.PAYMENT:
                return self.payment.status is FactStatus.SUCCEEDED
            case Step.QUALIFICATION:
                return self.qualification is not None and self.qualification.status is QualificationStatus.APPROVED
            case Step.FORMS:
                return self.forms_downloaded_at is not None

    def _failure(self, step: Step) -> str | None:
        """The note of a failed step, or None when the step has not failed."""
        if step is Step.IDENTITY and self.identity.status is FactStatus.FAILED:
            return self.identity.reason or "身份认证未通过"
        if step is Step.PAYMENT and self.payment.status is FactStatus.FAILED:
            return self.payment.reason or "支付未成功"
        review = self.qualification
        if step is Step.QUALIFICATION and review and review.status is QualificationStatus.REJECTED:
            return review.reason
        return None

    def steps(self) -> list[StepView]:
        """The flow chart: each step done, failed, available or locked (grey)."""
        views, reachable = [], True
        for step in STEP_ORDER:
            if not reachable:
                views.append(StepView(step, StepState.LOCKED))
                continue
            if self._done(step):
                views.append(StepView(step, StepState.DONE))
                continue
            failure = self._failure(step)
            if failure is not None:
                views.append(StepView(step, StepState.FAILED, failure))
            elif step is Step.QUALIFICATION and self.qualification is not None:
                views.append(StepView(step, StepState.AVAILABLE, self.qualification.status.label))
            else:
                views.append(StepView(step, StepState.AVAILABLE))
            reachable = False
        return views

    def is_open(self, step: Step) -> bool:
        """A step can be acted on: every step before it is done."""
        return all(self._done(s) for s in STEP_ORDER[: STEP_ORDER.index(step)])

    @property
    def current_step(self) -> Step:
        """The first step not done (表格下载 when everything is)."""
        return next((s for s in STEP_ORDER if not self._done(s)), Step.FORMS)

    @property
    def status(self) -> RegistrationStatus:
        if self.abandoned:
            return RegistrationStatus.ABANDONED
        if self.is_open(Step.FORMS):
            return RegistrationStatus.COMPLETED
        if self.confirmed_at is not None:
            return RegistrationStatus.CONFIRMED
        if self.notices:
            return RegistrationStatus.IN_PROGRESS
        return RegistrationStatus.NOT_STARTED

    # --- guards ----------------------------------------------------------------------------

    def _check_active(self) -> None:
        if self.abandoned:
            raise FailedPrecondition("您已放弃报名，不能继续操作", reason="ABANDONED")

    def _check_open(self, step: Step) -> None:
        self._check_active()
        if not self.is_open(step):
            missing = next(s for s in STEP_ORDER if not self._done(s))
            raise FailedPrecondition(f"请先完成“{missing.label}”", reason="STEP_NOT_OPEN", field=step.value)

    def check_editable(self, report_locked: bool) -> None:
        """填写基本信息 may be (re)submitted: notices read, not yet confirmed, not reported."""
        self._check_open(Step.BASIC_INFO)
        if report_locked:
            raise FailedPrecondition(REPORT_LOCK_MESSAGE, reason="REPORT_LOCKED")
        if self.confirmed_at is not None:
            raise FailedPrecondition("报名信息已确认，不能修改", reason="ALREADY_CONFIRMED")

    # --- transitions -----------------------------------------------------------------------

    def show_notice(self, notice: Notice, at: datetime) -> Registration:
        """The server serves a text: record when it was first shown (a reload keeps the first time)."""
        self._check_active()
        index = NOTICE_ORDER.index(notice)
        before = next((n for n in NOTICE_ORDER[:index] if not self.reading(n).acknowledged_at), None)
        if before is not None:
            raise FailedPrecondition(f"请先阅读并确认“{before.label}”", reason="STEP_NOT_OPEN", field="notice")
        if self.reading(notice).shown_at is not None:
            return self
        return replace(self, notices={**self.notices, notice: NoticeReading(shown_at=at)})

    def acknowledge_notice(self, notice: Notice, at: datetime, minimum: timedelta = NOTICE_MIN_READING) -> Registration:
        """我已知晓 / 我同意: accepted only `minimum` after the text was shown; a repeat is a no-op."""
        self._check_active()
        reading = self.reading(notice)
        if reading.acknowledged_at is not None:
            return self
        check_reading_time(reading.shown_at, at, minimum)
        return replace(self, notices={**self.notices, notice: replace(reading, acknowledged_at=at)})

    def submit_basic_info(self, at: datetime, report_locked: bool) -> Registration:
        """提交并继续 with a form that `parse_basic_info` accepted."""
        self.check_editable(report_locked)
        return replace(self, basic_info_submitted_at=at)

    def confirm(self, required: Iterable[DocumentKind], at: datetime) -> Registration:
        """信息确认 → 确定. `required` (from the confirmed form) fixes the review: none means it passes."""
        self._check_open(Step.CONFIRM)
        if self.confirmed_at is not None:
            return self
        return replace(self, confirmed_at=at, qualification=QualificationReview.start(required, at))

    def record_identity_verified(self, at: datetime) -> Registration:
        return replace(self, identity=self.identity.succeeded(at))

    def record_identity_failed(self, at: datetime, reason: str = "") -> Registration:
        return replace(self, identity=self.identity.failed(at, reason))

    def record_payment_succeeded(self, at: datetime) -> Registration:
        return replace(self, payment=self.payment.succeeded(at))

    def record_payment_failed(self, at: datetime, reason: str = "") -> Registration:
        return replace(self, payment=self.payment.failed(at, reason))

    def _review(self) -> QualificationReview:
        assert self.qualification is not None  # set by confirm(), which opening this step requires
        return self.qualification

    def check_can_change_documents(self, kind: DocumentKind) -> None:
        """Uploading or removing a file of 资料上传."""
        self._check_open(Step.QUALIFICATION)
        self._review().check_upload(kind)

    def submit_documents(self, uploaded: Iterable[DocumentKind], at: datetime) -> Registration:
        """资料上传 → 确定: 待上传 (or 审核不通过) → 审核中."""
        self._check_open(Step.QUALIFICATION)
        return replace(self, qualification=self._review().submit(uploaded, at))

    def approve_qualification(
        self, at: datetime, bonus_points: str = "", bonus_points_max: int = BONUS_POINTS_MAX
    ) -> Registration:
        """审核通过, with the 奖励加分 granted as the reviewer typed it (see `QualificationReview.approve`)."""
        self._check_active()
        if self.qualification is None:
            raise FailedPrecondition("该考生尚未提交审核材料", reason="REVIEW_NOT_PENDING")
        return replace(self, qualification=self.qualification.approve(at, bonus_points, bonus_points_max))

    def reject_qualification(self, reason: str, at: datetime) -> Registration:
        self._check_active()
        if self.qualification is None:
            raise FailedPrecondition("该考生尚未提交审核材料", reason="REVIEW_NOT_PENDING")
        return replace(self, qualification=self.qualification.reject(reason, at))

    def record_forms_downloaded(self, at: datetime) -> Registration:
        self._check_open(Step.FORMS)
        return self if self.forms_downloaded_at else replace(self, forms_downloaded_at=at)

    def abandon(self, at: datetime) -> Registration:
        """放弃报名 ends the registration (the caller has checked the captcha and SMS code)."""
        self._check_active()
        return replace(self, abandoned_at=at)
