"""Which materials a candidate must upload for the 报考资格审核 (manual 2.8.6), and the review's states."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from zsb.common.errors import FailedPrecondition, InvalidArgument
from zsb.common.validators import parse_text

if TYPE_CHECKING:
    from services.registration.domain.form import BasicInfo
    from services.registration.domain.reference import ReferenceData

REJECTION_REASON_MAX_LENGTH = 200
# 奖励加分 a reviewer may grant: whole points up to the cap the province keeps in the reference data
# (`bonus_points_max`). The default 10 is the highest single item of the policy (服兵役退役:
# 总分加10分); only a candidate's highest item counts (BONUS_RULES), so one cap bounds every grant.
# The ceiling bounds any cap the province may set (the results service stores at most 100).
BONUS_POINTS_MAX = 10
BONUS_POINTS_CEILING = 100
_WHOLE_POINTS = re.compile(r"[0-9]{1,3}")


class DocumentKind(StrEnum):
    CONSCRIPT = "conscript"  # 义务兵材料: 退役士兵 and the 退役复学 types
    BONUS_POINTS = "bonus_points"  # 奖励加分材料
    POVERTY_REGISTERED = "poverty_registered"  # 建档立卡材料

    @property
    def label(self) -> str:
        return _DOCUMENT_LABELS[self]


_DOCUMENT_LABELS = {
    DocumentKind.CONSCRIPT: "义务兵材料",
    DocumentKind.BONUS_POINTS: "奖励加分材料",
    DocumentKind.POVERTY_REGISTERED: "建档立卡材料",
}


def required_documents(info: BasicInfo, reference: ReferenceData) -> frozenset[DocumentKind]:
    """The materials this candidate must upload; empty means the review passes automatically."""
    candidate_type = reference.candidate_type(info.candidate_type)
    needed = set(candidate_type.documents) if candidate_type else set()
    if info.claims_bonus_points:
        needed.add(DocumentKind.BONUS_POINTS)
    if info.poverty_registered:
        needed.add(DocumentKind.POVERTY_REGISTERED)
    return frozenset(needed)


def parse_bonus_points(raw: str | None, maximum: int) -> int:
    """奖励加分 as the reviewer typed it: whole points from 0 to `maximum` (full-width digits accepted)."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not _WHOLE_POINTS.fullmatch(text) or int(text) > maximum:
        raise InvalidArgument(
            f"奖励加分须为0至{maximum}之间的整数（单位：分）", reason="BAD_BONUS_POINTS", field="bonus_points"
        )
    return int(text)


class QualificationStatus(StrEnum):
    PENDING_UPLOAD = "pending_upload"  # 待上传
    UNDER_REVIEW = "under_review"  # 审核中
    APPROVED = "approved"  # 审核通过
    REJECTED = "rejected"  # 审核不通过

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    QualificationStatus.PENDING_UPLOAD: "待上传",
    QualificationStatus.UNDER_REVIEW: "审核中",
    QualificationStatus.APPROVED: "审核通过",
    QualificationStatus.REJECTED: "审核不通过",
}


@dataclass(frozen=True)
class QualificationReview:
    """The review of one candidate's materials; `required` is fixed when the information is confirmed."""

    required: frozenset[DocumentKind]
    status: QualificationStatus
    automatic: bool = False  # passed without documents: nothing was required
    reason: str = ""  # the reviewer's reason of the latest rejection
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    bonus_points: int = 0  # 奖励加分 the reviewer granted on approval (claimants only)

    @classmethod
    def start(cls, required: Iterable[DocumentKind], at: datetime) -> QualificationReview:
        needed = frozenset(required)
        if not needed:
            return cls(required=needed, status=QualificationStatus.APPROVED, automatic=True, decided_at=at)
        return cls(required=needed, status=QualificationStatus.PENDING_UPLOAD)

    @property
    def claims_bonus_points(self) -> bool:
        """The candidate claimed 奖励加分: the reviewer decides how many points its materials earn."""
        return DocumentKind.BONUS_POINTS in self.required

    @property
    def accepts_uploads(self) -> bool:
        """Files may be added or removed while nothing is under review or approved."""
        return self.status in {QualificationStatus.PENDING_UPLOAD, QualificationStatus.REJECTED}

    def check_upload(self, kind: DocumentKind) -> None:
        if kind not in self.required:
            raise FailedPrecondition(f"您无需上传{kind.label}", reason="DOCUMENT_NOT_REQUIRED", field="kind")
        if not self.accepts_uploads:
            raise FailedPrecondition(f"资格审核状态为“{self.status.label}”，不能修改材料", reason="REVIEW_NOT_EDITABLE")

    def submit(self, uploaded: Iterable[DocumentKind], at: datetime) -> QualificationReview:
        """确定: send the uploaded materials for review; every required kind needs at least one file."""
        if not self.accepts_uploads:
            raise FailedPrecondition(f"资格审核状态为“{self.status.label}”，不能重复提交", reason="REVIEW_NOT_EDITABLE")
        missing = sorted(self.required - set(uploaded), key=list(DocumentKind).index)
        if missing:
            names = "、".join(k.label for k in missing)
            raise FailedPrecondition(f"请先上传{names}", reason="DOCUMENTS_MISSING")
        return replace(self, status=QualificationStatus.UNDER_REVIEW, submitted_at=at, decided_at=None)

    def approve(self, at: datetime, bonus_points: str = "", maximum: int = BONUS_POINTS_MAX) -> QualificationReview:
        """审核通过. A claimant's 奖励加分 must be stated (0 grants none); nobody else gets points."""
        self._check_under_review()
        text = (bonus_points or "").strip()
        if self.claims_bonus_points:
            if not text:
                raise InvalidArgument(
                    "请填写认定的奖励加分（不予加分请填0）", reason="BONUS_POINTS_REQUIRED", field="bonus_points"
                )
            points = parse_bonus_points(text, maximum)
        else:
            if unicodedata.normalize("NFKC", text).lstrip("0"):  # "", "0": nothing granted
                raise InvalidArgument(
                    "该考生未申请奖励加分，不能认定加分", reason="BONUS_NOT_CLAIMED", field="bonus_points"
                )
            points = 0
        return replace(self, status=QualificationStatus.APPROVED, reason="", decided_at=at, bonus_points=points)

    def reject(self, reason: str, at: datetime) -> QualificationReview:
        """审核不通过 with the reviewer's reason; the candidate may then upload again."""
        self._check_under_review()
        text = parse_text(
            reason, field="reason", label="审核不通过原因", max_length=REJECTION_REASON_MAX_LENGTH, multiline=True
        )
        return replace(self, status=QualificationStatus.REJECTED, reason=text, decided_at=at, bonus_points=0)

    def _check_under_review(self) -> None:
        if self.status is not QualificationStatus.UNDER_REVIEW:
            raise FailedPrecondition(
                f"该考生的资格审核状态为“{self.status.label}”，不能审核", reason="REVIEW_NOT_PENDING"
            )
