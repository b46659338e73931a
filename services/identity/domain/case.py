"""The identity case of one candidate (身份认证, manual 2.8.4): consent, photos, verification, manual review.

Pure: the service loads a case, applies one transition and stores the result. Every transition
returns a new `IdentityCase` or raises `FailedPrecondition` / `InvalidArgument` with a Chinese
message and a reason code. Times are naive UTC from the caller's clock.

States:

    collecting ──start──> verifying ──passed──> passed (final)
        ^   ^                 │ ├──faces differ──────────────> manual_review ──approve──> approved (final)
        │   └──upload the─────┤ ├──fixable, attempts left──> retake      │
        │      flagged photo  │ └──fixable, no attempts left──> manual_review
        │                     └──the check cannot run─────────> manual_review
        └── reject ── rejected <──────────────────────────────────────── manual_review
    collecting / retake / rejected ──request──> manual_review (申请人工审核, with the candidate's reason)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from services.identity.domain.consent import CONSENT_VERSION
from services.identity.domain.face import ImageRole, Outcome
from zsb.common.errors import FailedPrecondition, InvalidArgument

REASON_MAX_LENGTH = 200


class PhotoKind(StrEnum):
    """The three images the candidate uploads."""

    PORTRAIT = "portrait"  # 证件照
    ID_CARD_FRONT = "id_card"  # 身份证人像面
    ID_CARD_BACK = "id_card_back"  # 身份证国徽面

    @property
    def label(self) -> str:
        return _PHOTO_LABELS[self]

    @property
    def face_role(self) -> ImageRole | None:
        """The role the face engine checks the image in; the 国徽面 carries no face."""
        return _FACE_ROLES.get(self)


_PHOTO_LABELS = {
    PhotoKind.PORTRAIT: "证件照",
    PhotoKind.ID_CARD_FRONT: "身份证人像面",
    PhotoKind.ID_CARD_BACK: "身份证国徽面",
}
_FACE_ROLES = {PhotoKind.PORTRAIT: ImageRole.PORTRAIT, PhotoKind.ID_CARD_FRONT: ImageRole.ID_CARD}
REQUIRED_PHOTOS: frozenset[PhotoKind] = frozenset(PhotoKind)


def photo_kind_of(role: ImageRole) -> PhotoKind:
    return next(kind for kind, r in _FACE_ROLES.items() if r is role)


def parse_photo_kind(value: str) -> PhotoKind:
    try:
        return PhotoKind(value)
    except ValueError:
        raise InvalidArgument("请选择照片类别", reason="BAD_PHOTO_KIND", field="kind") from None


class CaseStatus(StrEnum):
    COLLECTING = "collecting"  # 待认证: consent and photos
    VERIFYING = "verifying"  # 认证中: the automatic comparison is queued or running
    RETAKE = "retake"  # 需重新上传: a photo the candidate can fix, attempts left
    PASSED = "passed"  # 认证通过 (automatic)
    MANUAL_REVIEW = "manual_review"  # 人工审核中
    APPROVED = "approved"  # 人工审核通过
    REJECTED = "rejected"  # 人工审核未通过: new photos and another try are possible

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def final(self) -> bool:
        """Identity established: nothing changes any more (the registration keeps the first success)."""
        return self in (CaseStatus.PASSED, CaseStatus.APPROVED)

    @property
    def open(self) -> bool:
        """The candidate may change photos, start a verification or ask for manual review."""
        return self in (CaseStatus.COLLECTING, CaseStatus.RETAKE, CaseStatus.REJECTED)


_STATUS_LABELS = {
    CaseStatus.COLLECTING: "待认证",
    CaseStatus.VERIFYING: "认证中",
    CaseStatus.RETAKE: "需重新上传照片",
    CaseStatus.PASSED: "认证通过",
    CaseStatus.MANUAL_REVIEW: "人工审核中",
    CaseStatus.APPROVED: "人工审核通过",
    CaseStatus.REJECTED: "人工审核未通过",
}


class ReviewReason(StrEnum):
    """Why a case waits for a reviewer."""

    FACES_DIFFER = "faces_differ"
    RETRIES_EXHAUSTED = "retries_exhausted"
    REQUESTED = "requested"
    SYSTEM_ERROR = "system_error"

    @property
    def label(self) -> str:
        return _REASON_LABELS[self]


_REASON_LABELS = {
    ReviewReason.FACES_DIFFER: "人脸比对不一致",
    ReviewReason.RETRIES_EXHAUSTED: "自动认证次数已用完",
    ReviewReason.REQUESTED: "考生申请人工审核",
    ReviewReason.SYSTEM_ERROR: "自动认证无法完成",
}


@dataclass(frozen=True)
class CasePolicy:
    """How many automatic verifications may end in a fixable problem before a reviewer takes over,
    and the version of the photo notice a consent must name."""

    max_automatic_attempts: int = 3
    consent_version: str = CONSENT_VERSION

    def __post_init__(self) -> None:
        if self.max_automatic_attempts < 1:
            raise InvalidArgument("自动认证次数上限至少为1", field="max_automatic_attempts")


def check_reason(text: str, field: str, missing: str) -> str:
    reason = " ".join((text or "").split())
    if not reason:
        raise InvalidArgument(missing, reason="REASON_REQUIRED", field=field)
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidArgument(f"原因不能超过{REASON_MAX_LENGTH}字", reason="REASON_TOO_LONG", field=field)
    return reason


@dataclass(frozen=True)
class IdentityCase:
    status: CaseStatus = CaseStatus.COLLECTING
    consent_at: datetime | None = None
    consent_version: str = ""
    # Automatic verifications that ended in a fixable problem since the case (re)opened.
    attempts: int = 0
    retake_kind: PhotoKind | None = None  # the photo to upload again (status RETAKE)
    retake_message: str = ""  # which rule it failed, as the candidate reads it
    review_reason: ReviewReason | None = None
    request_reason: str = ""  # the candidate's words when they asked for manual review
    review_since: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str = ""
    decision_reason: str = ""
    concluded_at: datetime | None = None  # passed, approved or rejected: the retention period counts from here

    # --- candidate ------------------------------------------------------------------------

    def give_consent(self, version: str, policy: CasePolicy, now: datetime) -> IdentityCase:
        """同意: recorded with its time and the version of the text the candidate read."""
        if version != policy.consent_version:
            raise FailedPrecondition("照片采集说明已更新，请重新阅读后再点击“同意”", reason="CONSENT_OUTDATED")
        if self.has_consent(policy):
            return self
        return replace(self, consent_at=now, consent_version=version)

    def has_consent(self, policy: CasePolicy) -> bool:
        """Consent to the notice in force (a changed notice needs a new consent)."""
        return self.consent_at is not None and self.consent_version == policy.consent_version

    def check_consent(self, policy: CasePolicy) -> None:
        if not self.has_consent(policy):
            raise FailedPrecondition("请先阅读照片采集说明并点击“同意”", reason="CONSENT_REQUIRED")

    def check_open(self) -> None:
        if self.status.final:
            raise FailedPrecondition("身份认证已通过，无需再次操作", reason="ALREADY_VERIFIED")
        if self.status is CaseStatus.VERIFYING:
            raise FailedPrecondition("正在进行身份认证，请等待认证结果", reason="VERIFYING")
        if self.status is CaseStatus.MANUAL_REVIEW:
            raise FailedPrecondition("身份认证正在人工审核中，请等待审核结果", reason="UNDER_REVIEW")

    def check_can_upload(self, policy: CasePolicy) -> None:
        self.check_consent(policy)
        self.check_open()

    def photo_uploaded(self, kind: PhotoKind, policy: CasePolicy) -> IdentityCase:
        """A new photo; replacing the one a rule flagged makes the case ready to start again."""
        self.check_can_upload(policy)
        if self.status is CaseStatus.RETAKE and kind is self.retake_kind:
            return replace(self, status=CaseStatus.COLLECTING, retake_kind=None, retake_message="")
        return self

    def start(self, photos: set[PhotoKind] | frozenset[PhotoKind], policy: CasePolicy) -> IdentityCase:
        """开始认证: every photo present, the flagged one replaced, attempts left."""
        self.check_can_upload(policy)
        missing = [k for k in PhotoKind if k not in photos]
        if missing:
            names = "、".join(k.label for k in missing)
            raise FailedPrecondition(f"请先上传{names}", reason="PHOTOS_MISSING")
        if self.status is CaseStatus.RETAKE and self.retake_kind is not None:
            raise FailedPrecondition(f"请先按提示重新上传{self.retake_kind.label}", reason="RETAKE_REQUIRED")
        if self.attempts >= policy.max_automatic_attempts:  # defensive: the last attempt already routed to review
            raise FailedPrecondition("自动认证次数已用完，请申请人工审核", reason="ATTEMPTS_EXHAUSTED")
        return replace(self, status=CaseStatus.VERIFYING, retake_kind=None, retake_message="")

    def request_review(
        self, photos: set[PhotoKind] | frozenset[PhotoKind], reason: str, policy: CasePolicy, now: datetime
    ) -> IdentityCase:
        """申请人工审核: the path without face recognition; a reviewer compares the photos by eye."""
        self.check_can_upload(policy)
        text = check_reason(reason, "reason", "请填写申请人工审核的原因")
        missing = [k for k in PhotoKind if k not in photos]
        if missing:
            names = "、".join(k.label for k in missing)
            raise FailedPrecondition(f"人工审核需要核对照片，请先上传{names}", reason="PHOTOS_MISSING")
        return self._to_review(ReviewReason.REQUESTED, now, request_reason=text)

    # --- the automatic verification ----------------------------------------------------------

    def record_result(
        self, outcome: Outcome, problem_kind: PhotoKind | None, message: str, policy: CasePolicy, now: datetime
    ) -> IdentityCase:
        """The worker's verdict on the verification this case is waiting for."""
        if self.status is not CaseStatus.VERIFYING:
            raise FailedPrecondition("没有进行中的身份认证", reason="NOT_VERIFYING")
        if outcome is Outcome.PASSED:
            return replace(self, status=CaseStatus.PASSED, concluded_at=now, review_reason=None)
        if outcome is Outcome.FAILED:
            return self._to_review(ReviewReason.FACES_DIFFER, now)
        attempts = self.attempts + 1
        if attempts >= policy.max_automatic_attempts:
            return replace(self._to_review(ReviewReason.RETRIES_EXHAUSTED, now), attempts=attempts)
        return replace(
            self, status=CaseStatus.RETAKE, attempts=attempts, retake_kind=problem_kind, retake_message=message[:200]
        )

    def record_error(self, now: datetime) -> IdentityCase:
        """The automatic check could not run (after its retries): a reviewer decides instead."""
        if self.status is not CaseStatus.VERIFYING:
            raise FailedPrecondition("没有进行中的身份认证", reason="NOT_VERIFYING")
        return self._to_review(ReviewReason.SYSTEM_ERROR, now)

    def _to_review(self, reason: ReviewReason, now: datetime, request_reason: str = "") -> IdentityCase:
        return replace(
            self,
            status=CaseStatus.MANUAL_REVIEW,
            review_reason=reason,
            request_reason=request_reason,
            review_since=now,
            retake_kind=None,
            retake_message="",
            decided_at=None,
            decided_by="",
            decision_reason="",
        )

    # --- staff ---------------------------------------------------------------------------------

    def decide(self, approve: bool, reason: str, reviewer: str, now: datetime) -> IdentityCase:
        """审核通过 / 审核不通过, each with a reason (the audit keeps why)."""
        if self.status is not CaseStatus.MANUAL_REVIEW:
            raise FailedPrecondition("该考生的身份认证不在人工审核中", reason="NOT_UNDER_REVIEW")
        missing = "请填写审核通过的依据" if approve else "请填写审核不通过的原因"
        text = check_reason(reason, "reason", missing)
        status = CaseStatus.APPROVED if approve else CaseStatus.REJECTED
        # A rejection reopens the case with a fresh count of automatic attempts.
        attempts = self.attempts if approve else 0
        return replace(
            self,
            status=status,
            attempts=attempts,
            decided_at=now,
            decided_by=reviewer,
            decision_reason=text,
            concluded_at=now,
        )


@dataclass(frozen=True)
class Guidance:
    """What the candidate reads about their case: what happened, and what to do next."""

    message: str
    next_step: str


def guidance(case: IdentityCase, policy: CasePolicy) -> Guidance:
    left = max(policy.max_automatic_attempts - case.attempts, 0)
    s = case.status
    if s is CaseStatus.COLLECTING:
        if not case.has_consent(policy):
            return Guidance("尚未开始身份认证", "请阅读照片采集说明，同意后上传照片")
        return Guidance(
            "请上传证件照、身份证人像面和身份证国徽面", f"三张照片上传后点击“开始认证”（还可自动认证{left}次）"
        )
    if s is CaseStatus.VERIFYING:
        return Guidance("正在进行身份认证，请稍候", "认证通常在一分钟内完成，本页会自动显示结果")
    if s is CaseStatus.RETAKE:
        label = case.retake_kind.label if case.retake_kind else "照片"
        return Guidance(
            f"身份认证未完成：{case.retake_message}",
            f"请重新上传{label}后再次点击“开始认证”（还可自动认证{left}次，用完后转人工审核）",
        )
    if s is CaseStatus.PASSED:
        return Guidance("身份认证通过", "请继续办理“网上支付”")
    if s is CaseStatus.APPROVED:
        return Guidance("身份认证已通过人工审核", "请继续办理“网上支付”")
    if s is CaseStatus.REJECTED:
        return Guidance(
            f"身份认证人工审核未通过：{case.decision_reason}",
            "请按审核意见重新上传照片后点击“开始认证”，或再次申请人工审核",
        )
    # MANUAL_REVIEW
    reason = case.review_reason
    if reason is ReviewReason.FACES_DIFFER:
        message = "身份认证失败：证件照与身份证照片不一致，已转人工审核"
    elif reason is ReviewReason.RETRIES_EXHAUSTED:
        message = f"自动认证已达{policy.max_automatic_attempts}次上限，已转人工审核"
    elif reason is ReviewReason.SYSTEM_ERROR:
        message = "自动认证暂时无法完成，已转人工审核"
    else:
        message = "已申请人工审核"
    return Guidance(
        message,
        "审核人员将核对您上传的照片，结果会在本页和“我的报考”中显示；如审核未通过，可按审核意见重新上传照片",
    )


def photo_expired(
    uploaded_at: datetime, status: CaseStatus, concluded_at: datetime | None, retention_days: int, now: datetime
) -> bool:
    """Whether a photo is past its retention period (see `consent_notice`).

    The period counts from the later of the upload and the case's conclusion; photos a pending
    verification or review still needs are never expired.
    """
    if status in (CaseStatus.VERIFYING, CaseStatus.MANUAL_REVIEW):
        return False
    anchor = max(uploaded_at, concluded_at) if concluded_at is not None else uploaded_at
    return now - anchor > timedelta(days=retention_days)
