"""The admin side of registration: review queue (报考资格审核), reporting (上报), audit, reference data.

Every staff call checks role and scope here: point staff see their point, city staff their city,
the province everything; reviewers are scoped like the city or point they review for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Select, func, select

from services.registration.adapters import AuditRow, Candidate, DocumentRow, ReferenceDataRow, ReportRow
from services.registration.domain import QualificationStatus, ReferenceData
from services.registration.service.calendar import require_phase
from services.registration.service.common import (
    Snapshot,
    Store,
    StoredReference,
    audit,
    check_candidate_no,
    load_reference,
    publish,
    timestamp,
)
from zsb.common.calendar import Phase
from zsb.common.clock import utcnow
from zsb.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from zsb.common.principal import Principal, Role, current_principal, require_scope, require_staff
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import registration_events_pb2 as ev

MAX_PAGE = 200
REFERENCE_MAX_BYTES = 2 * 1024 * 1024
SCOPES = ("point", "city")


def scoped(query: Select, p: Principal) -> Select:
    """Limit a query on candidates to what the staff member may see."""
    if p.role == Role.PROVINCE:
        return query
    if p.role in (Role.CITY, Role.REVIEWER) and not p.point_code:
        return query.where(Candidate.city_code == (p.city_code or "--"))
    return query.where(Candidate.point_code == (p.point_code or "--"))


@dataclass
class ReviewPage:
    rows: list[tuple[Candidate, int]]  # candidate and how many files it uploaded
    total: int


@dataclass
class ReportView:
    scope: str
    code: str
    name: str
    row: ReportRow | None
    candidates: int


class StaffService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # --- review queue ------------------------------------------------------------------------

    def list_reviews(
        self, city_code: str, point_code: str, candidate_type: str, status: str, limit: int, offset: int
    ) -> tuple[ReviewPage, ReferenceData]:
        p = require_staff()
        if status and status not in {s.value for s in QualificationStatus}:
            raise InvalidArgument("审核状态不正确", reason="BAD_STATUS", field="status")
        limit = min(max(limit or 50, 1), MAX_PAGE)
        query = scoped(select(Candidate), p).where(
            Candidate.review_status.is_not(None), Candidate.abandoned_at.is_(None)
        )
        if city_code:
            query = query.where(Candidate.city_code == city_code[:2])
        if point_code:
            query = query.where(Candidate.point_code == point_code[:10])
        if candidate_type:
            query = query.where(Candidate.candidate_type == candidate_type[:4])
        if status:
            query = query.where(Candidate.review_status == status)
        with self.ctx.db.unit_of_work() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            page = session.scalars(
                query.order_by(
                    Candidate.review_submitted_at.is_(None), Candidate.review_submitted_at, Candidate.candidate_no
                )
                .limit(limit)
                .offset(max(offset, 0))
            ).all()
            counts = dict(
                session.execute(
                    select(DocumentRow.candidate_no, func.count())
                    .where(DocumentRow.candidate_no.in_([c.candidate_no for c in page]))
                    .group_by(DocumentRow.candidate_no)
                ).all()
            )
            reference = load_reference(session).data
        return ReviewPage([(c, counts.get(c.candidate_no, 0)) for c in page], total), reference

    def get_registration(self, candidate_no: str) -> Snapshot:
        number = check_candidate_no(candidate_no)
        require_staff()
        with self.ctx.db.unit_of_work() as session:
            store = Store(self.ctx, session)
            row = session.get(Candidate, number)
            if row is None:
                raise NotFound("考生不存在", reason="NO_CANDIDATE", field="candidate_no")
            require_scope(row.city_code, row.point_code)
            return store.snapshot(row)

    def decide(self, candidate_no: str, approve: bool, reason: str, bonus_points: str = "") -> Snapshot:
        """审核通过 (with the 奖励加分 granted to a claimant) / 审核不通过 with a reason; audited and published."""
        number = check_candidate_no(candidate_no)
        require_staff()
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            store = Store(self.ctx, session)
            row = store.candidates.get(number, for_update=True)
            if row is None:
                raise NotFound("考生不存在", reason="NO_CANDIDATE", field="candidate_no")
            p = require_scope(row.city_code, row.point_code)
            require_phase(session, Phase.QUALIFICATION_REVIEW, now)
            reg = store.candidates.load(row)
            if approve:
                cap = load_reference(session).data.bonus_points_max
                reg = reg.approve_qualification(now, bonus_points, cap)
                review = reg.qualification
                assert review is not None  # approve_qualification refuses a registration without one
                message = ev.QualificationApproved(
                    candidate_no=number, reviewer=p.subject, at=timestamp(now), bonus_points=review.bonus_points
                )
                # The grant is the decision's substance: the audit says how many points, within which cap.
                detail = f"认定奖励加分{review.bonus_points}分（上限{cap}分）" if review.claims_bonus_points else ""
                audit(session, p, "review_approved", number, detail)
            else:
                reg = reg.reject_qualification(reason or "", now)
                message = ev.QualificationRejected(
                    candidate_no=number, reviewer=p.subject, reason=reg.qualification.reason, at=timestamp(now)
                )
                audit(session, p, "review_rejected", number, reg.qualification.reason)
            store.candidates.save(row, reg)
            publish(session, number, message)
            return store.snapshot(row, reg)

    # --- reporting (上报) --------------------------------------------------------------------

    @staticmethod
    def _check_scope_name(scope: str) -> str:
        if scope not in SCOPES:
            raise InvalidArgument("上报范围不正确", reason="BAD_SCOPE", field="scope")
        return scope

    def _may_report(self, p: Principal, scope: str, code: str) -> None:
        """Point staff report their point, city staff their city; the province may act on any."""
        if p.role == Role.PROVINCE:
            return
        if scope == "point" and p.role == Role.POINT and p.point_code == code:
            return
        if scope == "city" and p.role == Role.CITY and p.city_code == code:
            return
        raise PermissionDenied("超出管理范围", reason="OUT_OF_SCOPE")

    def _known(self, session, scope: str, code: str) -> str:
        reference = load_reference(session).data
        option = (reference.points if scope == "point" else reference.cities).get(code)
        if option is None:
            raise NotFound("报名点或地市不存在", reason="NO_SUCH_SCOPE", field="code")
        return option.name

    def report(self, scope: str, code: str) -> ReportView:
        scope, p = self._check_scope_name(scope), require_staff()
        self._may_report(p, scope, code)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            name = self._known(session, scope, code)
            row = session.scalars(
                select(ReportRow).where(ReportRow.scope == scope, ReportRow.code == code).with_for_update()
            ).first()
            if row is None:
                row = ReportRow(scope=scope, code=code, reported=False, reported_by="", withdrawal_allowed=False)
                session.add(row)
            if row.reported:
                raise FailedPrecondition("已上报，无需重复上报", reason="ALREADY_REPORTED")
            row.reported, row.reported_at, row.reported_by = True, now, p.subject
            row.withdrawal_allowed, row.updated_at = False, now
            if scope == "point":
                message = ev.PointReported(point_code=code, city_code=code[:2], actor=p.subject, at=timestamp(now))
            else:
                message = ev.CityReported(city_code=code, actor=p.subject, at=timestamp(now))
            publish(session, code, message)
            audit(session, p, f"{scope}_reported", code)
            session.flush()
            return ReportView(scope, code, name, row, self._count(session, scope, code))

    def withdraw(self, scope: str, code: str) -> ReportView:
        """撤回上报: the province may; the point or city only after the province allowed it."""
        scope, p = self._check_scope_name(scope), require_staff()
        self._may_report(p, scope, code)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            name = self._known(session, scope, code)
            row = session.scalars(
                select(ReportRow).where(ReportRow.scope == scope, ReportRow.code == code).with_for_update()
            ).first()
            if row is None or not row.reported:
                raise FailedPrecondition("尚未上报，无需撤回", reason="NOT_REPORTED")
            if p.role != Role.PROVINCE and not row.withdrawal_allowed:
                raise PermissionDenied(
                    "撤回上报须经省招生考试管理中心同意", reason="WITHDRAWAL_NOT_ALLOWED", field="code"
                )
            row.reported, row.withdrawal_allowed, row.updated_at = False, False, now
            if scope == "point":
                message = ev.PointReportWithdrawn(
                    point_code=code, city_code=code[:2], actor=p.subject, at=timestamp(now)
                )
            else:
                message = ev.CityReportWithdrawn(city_code=code, actor=p.subject, at=timestamp(now))
            publish(session, code, message)
            audit(session, p, f"{scope}_report_withdrawn", code)
            session.flush()
            return ReportView(scope, code, name, row, self._count(session, scope, code))

    def set_withdrawal_allowed(self, scope: str, code: str, allowed: bool) -> ReportView:
        scope, p = self._check_scope_name(scope), require_staff(Role.PROVINCE)
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            name = self._known(session, scope, code)
            row = session.scalars(
                select(ReportRow).where(ReportRow.scope == scope, ReportRow.code == code).with_for_update()
            ).first()
            if row is None or not row.reported:
                raise FailedPrecondition("尚未上报，无需撤回", reason="NOT_REPORTED")
            row.withdrawal_allowed, row.updated_at = allowed, now
            audit(session, p, "withdrawal_allowed" if allowed else "withdrawal_disallowed", code, f"{scope}")
            return ReportView(scope, code, name, row, self._count(session, scope, code))

    def _count(self, session, scope: str, code: str) -> int:
        column = Candidate.point_code if scope == "point" else Candidate.city_code
        return (
            session.scalar(
                select(func.count())
                .select_from(Candidate)
                .where(column == code, Candidate.basic_info_submitted_at.is_not(None), Candidate.abandoned_at.is_(None))
            )
            or 0
        )

    def list_reports(self, scope: str) -> list[ReportView]:
        p = require_staff()
        if scope:
            self._check_scope_name(scope)
        with self.ctx.db.unit_of_work() as session:
            reference = load_reference(session).data
            rows = {(r.scope, r.code): r for r in session.scalars(select(ReportRow))}
            wanted: list[tuple[str, str, str]] = []
            if scope in ("", "city"):
                wanted += [("city", c.code, c.name) for c in reference.cities if p.in_scope(c.code, "")]
            if scope in ("", "point"):
                wanted += [("point", o.code, o.name) for o in reference.points if p.in_scope(o.code[:2], o.code)]
            return [
                ReportView(s, code, name, rows.get((s, code)), self._count(session, s, code))
                for s, code, name in wanted
            ]

    # --- audit -------------------------------------------------------------------------------

    def list_audit(self, subject: str, action: str, limit: int) -> list[AuditRow]:
        p = require_staff()
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(min(max(limit or 100, 1), 500))
        if p.role != Role.PROVINCE:
            query = query.where(AuditRow.actor == p.subject)  # others see their own decisions
        if subject:
            query = query.where(AuditRow.subject == subject[:20])
        if action:
            query = query.where(AuditRow.action == action[:40])
        with self.ctx.db.unit_of_work() as session:
            return list(session.scalars(query))

    # --- reference data ----------------------------------------------------------------------

    def get_reference(self) -> StoredReference:
        current_principal()  # anyone signed in: candidates fill the form with it
        with self.ctx.db.unit_of_work() as session:
            return load_reference(session)

    def replace_reference(self, data_json: str) -> StoredReference:
        p = require_staff(Role.PROVINCE)
        if len(data_json.encode()) > REFERENCE_MAX_BYTES:
            raise InvalidArgument("参考数据过大", reason="REFERENCE_TOO_LARGE", field="data_json")
        try:
            raw = json.loads(data_json)
            if not isinstance(raw, dict):
                raise ValueError("顶层须为JSON对象")
            data = ReferenceData.from_dict(raw)
        except (ValueError, TypeError, AttributeError) as exc:
            raise InvalidArgument(f"参考数据有误：{exc}", reason="BAD_REFERENCE", field="data_json") from exc
        now = utcnow()
        with self.ctx.db.unit_of_work() as session:
            row = session.scalars(select(ReferenceDataRow).where(ReferenceDataRow.id == 1).with_for_update()).first()
            version = (row.version if row else 0) + 1
            if row is None:
                row = ReferenceDataRow(id=1)
                session.add(row)
            row.version, row.updated_at, row.updated_by = version, now, p.subject
            row.data_json = json.dumps(data.to_dict(), ensure_ascii=False)
            publish(session, "reference", ev.ReferenceDataReplaced(version=version, actor=p.subject, at=timestamp(now)))
            audit(session, p, "reference_replaced", "reference", f"version {version}")
        return StoredReference(data, version, now, p.subject)
