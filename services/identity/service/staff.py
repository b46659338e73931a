"""Manual review (人工审核) on the admin side, and reading photos for their owner or staff in scope.

Every staff call checks role and scope here: point staff see their point, city staff (and
reviewers without a point) their city, the province everything. Decisions and every staff view
of a photo go to the audit; decisions are published as events.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image
from sqlalchemy import Select, func, select

from services.identity.adapters import AuditRow, CandidateRow, CaseRow, JobRow, PhotoRow, to_case, write_case
from services.identity.domain.case import CaseStatus, IdentityCase, PhotoKind, ReviewReason
from services.identity.service.common import CHUNK_BYTES, Deps, audit_staff, check_candidate_no, publish, timestamp
from zsb.common.errors import InvalidArgument, NotFound
from zsb.common.objectstore import ObjectNotFound
from zsb.common.principal import Principal, Role, current_principal, require_candidate, require_scope, require_staff
from zsb.events.v1 import identity_events_pb2 as ev

MAX_PAGE = 200
PORTRAIT_MAX_SIDE = 800  # enough for a 35 x 45 mm photo printed at 400 dpi
REVIEW_STATUSES = (CaseStatus.MANUAL_REVIEW, CaseStatus.APPROVED, CaseStatus.REJECTED)


def scoped(query: Select, p: Principal) -> Select:
    """Limit a query joined with candidates to what the staff member may see."""
    if p.role == Role.PROVINCE:
        return query
    if p.role in (Role.CITY, Role.REVIEWER) and not p.point_code:
        return query.where(CandidateRow.city_code == (p.city_code or "--"))
    return query.where(CandidateRow.point_code == (p.point_code or "--"))


@dataclass
class ReviewPage:
    rows: list[tuple[CaseRow, CandidateRow, JobRow | None]]
    total: int


@dataclass
class StaffCase:
    candidate: CandidateRow
    row: CaseRow
    case: IdentityCase
    photos: dict[PhotoKind, PhotoRow]
    jobs: list[JobRow]


@dataclass
class Chunk:
    photo: PhotoRow
    data: bytes
    total_size: int


class StaffService:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def list_reviews(
        self, status: str, city_code: str, point_code: str, reason: str, limit: int, offset: int
    ) -> ReviewPage:
        p = require_staff()
        status = status or CaseStatus.MANUAL_REVIEW.value
        if status != "all" and status not in {s.value for s in REVIEW_STATUSES}:
            raise InvalidArgument("审核状态不正确", reason="BAD_STATUS", field="status")
        if reason and reason not in {r.value for r in ReviewReason}:
            raise InvalidArgument("转人工审核原因不正确", reason="BAD_REASON", field="review_reason")
        query = scoped(
            select(CaseRow, CandidateRow, JobRow)
            .join(CandidateRow, CandidateRow.candidate_no == CaseRow.candidate_no)
            .outerjoin(JobRow, JobRow.id == CaseRow.current_job),
            p,
        ).where(CaseRow.review_reason.is_not(None))
        if status != "all":
            query = query.where(CaseRow.status == status)
        if city_code:
            query = query.where(CandidateRow.city_code == city_code[:2])
        if point_code:
            query = query.where(CandidateRow.point_code == point_code[:10])
        if reason:
            query = query.where(CaseRow.review_reason == reason)
        limit = min(max(limit or 50, 1), MAX_PAGE)
        with self.deps.db.unit_of_work() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.execute(
                query.order_by(CaseRow.review_since, CaseRow.candidate_no).limit(limit).offset(max(offset, 0))
            ).all()
            return ReviewPage([(c, cand, job) for c, cand, job in rows], int(total))

    def get_case(self, candidate_no: str) -> StaffCase:
        number = check_candidate_no(candidate_no)
        require_staff()
        with self.deps.db.unit_of_work() as session:
            repo = self.deps.repo(session)
            candidate = repo.candidate(number)
            if candidate is None:
                raise NotFound("考生不存在", reason="NO_CANDIDATE", field="candidate_no")
            require_scope(candidate.city_code, candidate.point_code)
            row = repo.case(number)
            if row is None:
                raise NotFound("该考生尚未进行身份认证", reason="NO_CASE", field="candidate_no")
            return StaffCase(candidate, row, to_case(row), repo.photos(number, include_deleted=True), repo.jobs(number))

    def decide(self, candidate_no: str, approve: bool, reason: str) -> StaffCase:
        """审核通过 / 审核不通过 with a reason: audited and published, in one transaction."""
        number = check_candidate_no(candidate_no)
        p = require_staff()
        with self.deps.db.unit_of_work() as session:
            repo = self.deps.repo(session)
            now = self.deps.clock()
            candidate = repo.candidate(number)
            if candidate is None:
                raise NotFound("考生不存在", reason="NO_CANDIDATE", field="candidate_no")
            require_scope(candidate.city_code, candidate.point_code)
            row = repo.case(number, for_update=True)
            if row is None:
                raise NotFound("该考生尚未进行身份认证", reason="NO_CASE", field="candidate_no")
            case = to_case(row).decide(approve, reason, p.subject, now)
            write_case(row, case, now)
            action = "identity_approved" if approve else "identity_rejected"
            audit_staff(session, p, action, number, case.decision_reason, now)
            common = {"candidate_no": number, "verification_id": row.current_job or "", "reviewer": p.subject}
            if approve:
                message = ev.IdentityManuallyApproved(**common, reason=case.decision_reason, at=timestamp(now))
            else:
                message = ev.IdentityManuallyRejected(**common, reason=case.decision_reason, at=timestamp(now))
            publish(session, number, message)
            session.flush()
            return StaffCase(candidate, row, case, repo.photos(number, include_deleted=True), repo.jobs(number))

    def list_audit(self, subject: str, action: str, limit: int) -> list[AuditRow]:
        p = require_staff()
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(min(max(limit or 100, 1), 500))
        if subject:
            query = query.where(AuditRow.subject == subject[:20])
        if action:
            query = query.where(AuditRow.action == action[:40])
        if p.role != Role.PROVINCE:
            # Only the entries about candidates in scope (and the staff member's own actions).
            in_scope = scoped(select(CandidateRow.candidate_no), p)
            query = query.where((AuditRow.subject.in_(in_scope)) | (AuditRow.actor == p.subject))
        with self.deps.db.unit_of_work() as session:
            return list(session.scalars(query))

    # --- photos ------------------------------------------------------------------------------

    def read_photo(self, photo_id: str, offset: int, limit: int) -> Chunk:
        """A slice of a photo: for its owner, or for staff in scope (each staff view is audited)."""
        caller = current_principal()
        if offset < 0 or limit < 0:
            raise InvalidArgument("读取范围不正确", reason="BAD_RANGE", field="offset")
        limit = min(limit or CHUNK_BYTES, CHUNK_BYTES)
        missing = NotFound("照片不存在", reason="NO_PHOTO", field="photo_id")
        with self.deps.db.unit_of_work() as session:
            repo = self.deps.repo(session)
            photo = session.get(PhotoRow, (photo_id or "")[:32])
            if photo is None:
                raise missing
            if caller.is_staff:
                owner = repo.candidate(photo.candidate_no)
                if owner is None:
                    raise missing
                require_scope(owner.city_code, owner.point_code)
                if offset == 0:
                    label = PhotoKind(photo.kind).label
                    audit_staff(session, caller, "photo_viewed", photo.candidate_no, label, self.deps.clock())
            elif photo.candidate_no != require_candidate().subject:
                raise missing  # another candidate's photo: do not even confirm it exists
            if photo.deleted_at is not None:
                raise NotFound("照片已按保存期限删除", reason="PHOTO_DELETED", field="photo_id")
            key = photo.object_key
            session.expunge(photo)
        try:
            data = self.deps.photos.get(key)
        except ObjectNotFound:
            raise NotFound("照片已删除", reason="PHOTO_DELETED", field="photo_id") from None
        return Chunk(photo, data[offset : offset + limit], len(data))

    def portrait(self, candidate_no: str) -> tuple[bytes, int, int]:
        """The verified 证件照 as a JPEG for printed forms: the candidate themself or staff in scope.

        Only once the identity is established (passed or approved): the printed photo must be the
        one that was checked. Returns (jpeg, width, height).
        """
        number = check_candidate_no(candidate_no)
        caller = current_principal()
        missing = NotFound("暂无已认证的证件照", reason="NO_PORTRAIT", field="candidate_no")
        with self.deps.db.unit_of_work() as session:
            repo = self.deps.repo(session)
            if caller.is_staff:
                owner = repo.candidate(number)
                if owner is None:
                    raise missing
                require_scope(owner.city_code, owner.point_code)
            else:
                require_candidate(number)
            case = repo.case(number)
            photo = repo.photos(number).get(PhotoKind.PORTRAIT)
            if case is None or not CaseStatus(case.status).final or photo is None:
                raise missing
            if caller.is_staff:
                audit_staff(session, caller, "photo_viewed", number, "证件照（表格）", self.deps.clock())
            key = photo.object_key
        try:
            data = self.deps.photos.get(key)
        except ObjectNotFound:
            raise missing from None
        with Image.open(io.BytesIO(data)) as image:  # our own re-encoded upload: JPEG or PNG
            image.draft("RGB", (PORTRAIT_MAX_SIDE, PORTRAIT_MAX_SIDE))  # JPEG: decode already scaled down
            rgb = image.convert("RGB")
        rgb.thumbnail((PORTRAIT_MAX_SIDE, PORTRAIT_MAX_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        rgb.save(out, "JPEG", quality=90)
        return out.getvalue(), rgb.width, rgb.height
