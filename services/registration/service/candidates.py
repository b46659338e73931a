"""Staff views of candidates: search (考生号, name, point, status), counts for the dashboard and
statistics, and the audited 查看完整信息 of one candidate's ID and phone numbers.

Everything is limited to the caller's scope here (`scoped`): point staff their point, city staff
their city, the province everything. Lists carry masked numbers only; the full numbers need the
explicit reveal call, which is recorded in the audit table (`pii_viewed`) and published.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from services.registration.adapters import BasicInfoRow, Candidate
from services.registration.domain import RegistrationStatus
from services.registration.service.common import audit, check_candidate_no
from services.registration.service.staff import MAX_PAGE, scoped
from zsb.common.errors import InvalidArgument, NotFound
from zsb.common.pii import mask_id_number, mask_phone
from zsb.common.principal import require_scope, require_staff
from zsb.common.runtime import ServiceContext


@dataclass(frozen=True)
class CandidateLine:
    row: Candidate
    id_number: str  # masked unless revealed
    phone: str


@dataclass(frozen=True)
class SearchPage:
    lines: list[CandidateLine]
    total: int


@dataclass(frozen=True)
class Counts:
    """Counts within the caller's scope, each as (key, count) sorted by key."""

    total: int
    by_city: list[tuple[str, int]]
    by_point: list[tuple[str, int]]
    by_type: list[tuple[str, int]]
    by_status: list[tuple[str, int]]
    by_review: list[tuple[str, int]]


class CandidatesService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def search(self, candidate_no: str, name: str, point_code: str, status: str, limit: int, offset: int) -> SearchPage:
        p = require_staff()
        if status and status not in {s.value for s in RegistrationStatus}:
            raise InvalidArgument("报名状态不正确", reason="BAD_STATUS", field="status")
        query = scoped(select(Candidate), p)
        if candidate_no.strip():
            query = query.where(Candidate.candidate_no.startswith(candidate_no.strip()[:14], autoescape=True))
        if name.strip():
            query = query.where(Candidate.name.contains(name.strip()[:30], autoescape=True))
        if point_code.strip():
            query = query.where(Candidate.point_code == point_code.strip()[:10])
        if status:
            query = query.where(Candidate.status == status)
        limit = min(max(limit or 50, 1), MAX_PAGE)
        with self.ctx.db.unit_of_work() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(Candidate.candidate_no).limit(limit).offset(max(offset, 0))).all()
            infos = {
                i.candidate_no: i
                for i in session.scalars(
                    select(BasicInfoRow).where(BasicInfoRow.candidate_no.in_([r.candidate_no for r in rows]))
                )
            }
            lines = [self._line(r, infos.get(r.candidate_no), reveal=False) for r in rows]
        return SearchPage(lines, total)

    def _line(self, row: Candidate, info: BasicInfoRow | None, reveal: bool) -> CandidateLine:
        if info is None:
            return CandidateLine(row, "", "")
        id_number = self.ctx.pii.decrypt(info.id_number_enc, "id_number")
        phone = self.ctx.pii.decrypt(info.phone_enc, "phone")
        if not reveal:
            id_number, phone = mask_id_number(id_number), mask_phone(phone)
        return CandidateLine(row, id_number, phone)

    def reveal(self, candidate_no: str, purpose: str) -> CandidateLine:
        """查看完整信息: the full numbers of one candidate in scope; audited with the stated purpose."""
        number = check_candidate_no(candidate_no)
        require_staff()
        reason = (purpose or "").strip()[:100]
        if not reason:
            raise InvalidArgument("请填写查看原因", reason="PURPOSE_REQUIRED", field="purpose")
        with self.ctx.db.unit_of_work() as session:
            row = session.get(Candidate, number)
            if row is None:
                raise NotFound("考生不存在", reason="NO_CANDIDATE", field="candidate_no")
            p = require_scope(row.city_code, row.point_code)
            line = self._line(row, session.get(BasicInfoRow, number), reveal=True)
            audit(session, p, "pii_viewed", number, reason)
            return line

    def counts(self) -> Counts:
        p = require_staff()
        base = scoped(select(Candidate), p).subquery()

        def grouped(session, column) -> list[tuple[str, int]]:
            col = base.c[column]
            rows = session.execute(select(col, func.count()).group_by(col).order_by(col)).all()
            return [(key or "", n) for key, n in rows]

        with self.ctx.db.unit_of_work() as session:
            total = session.scalar(select(func.count()).select_from(base)) or 0
            return Counts(
                total=total,
                by_city=grouped(session, "city_code"),
                by_point=grouped(session, "point_code"),
                by_type=grouped(session, "candidate_type"),
                by_status=grouped(session, "status"),
                by_review=[(k, n) for k, n in grouped(session, "review_status") if k],
            )
