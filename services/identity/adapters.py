"""Tables and repositories of the identity service.

- `candidates`: what registration's events tell us (name, city and point for staff scope,
  confirmation, abandonment): a projection, never a read of registration's database;
- `identity_cases`: one row per candidate, the `IdentityCase` aggregate of the domain;
- `photos`: the current photo of each kind; the bytes are in the private bucket `zsb-identity-photos`;
- `verification_jobs`: the queue of automatic verifications (claimed with SKIP LOCKED on MySQL)
  and their results, the history the reviewers see;
- `staff_audit`: every staff decision and every staff view of a photo, and the retention job's deletions;
- `calendar_phases`: our copy of registration's calendar, for the 身份认证 window.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Index, Integer, MetaData, String, UniqueConstraint, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from services.identity.domain.case import CaseStatus, IdentityCase, PhotoKind, ReviewReason
from zsb.common.calendar import calendar_table

_ID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData()


class CandidateRow(Base):
    """A candidate as registration's events describe them."""

    __tablename__ = "candidates"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(60), default="")
    city_code: Mapped[str] = mapped_column(String(2), default="", index=True)
    point_code: Mapped[str] = mapped_column(String(10), default="", index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    abandoned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class CaseRow(Base):
    __tablename__ = "identity_cases"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    consent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    consent_version: Mapped[str] = mapped_column(String(20), default="")
    consent_retention_days: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retake_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    retake_message: Mapped[str] = mapped_column(String(200), default="")
    review_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    request_reason: Mapped[str] = mapped_column(String(200), default="")
    review_since: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str] = mapped_column(String(40), default="")
    decision_reason: Mapped[str] = mapped_column(String(200), default="")
    concluded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    current_job: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the latest verification
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PhotoRow(Base):
    """The current photo of one kind; a new upload replaces the row (and its object)."""

    __tablename__ = "photos"
    __table_args__ = (UniqueConstraint("candidate_no", "kind", name="uq_photos_candidate_kind"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    candidate_no: Mapped[str] = mapped_column(String(14))
    kind: Mapped[str] = mapped_column(String(20))
    object_key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mismatch: Mapped[str] = mapped_column(String(200), default="")
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # by the retention job


class JobRow(Base):
    """One automatic verification: queued, running (leased to a worker), done or error."""

    __tablename__ = "verification_jobs"
    __table_args__ = (Index("ix_verification_jobs_due", "state", "not_before"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    candidate_no: Mapped[str] = mapped_column(String(14), index=True)
    state: Mapped[str] = mapped_column(String(10))
    enqueued_at: Mapped[datetime] = mapped_column(DateTime)
    not_before: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    worker: Mapped[str] = mapped_column(String(60), default="")
    tries: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(String(10), default="")  # passed | failed | fixable
    distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    problem: Mapped[str] = mapped_column(String(20), default="")
    problem_kind: Mapped[str] = mapped_column(String(20), default="")
    message: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(String(300), default="")
    portrait_sha256: Mapped[str] = mapped_column(String(64), default="")
    id_card_sha256: Mapped[str] = mapped_column(String(64), default="")


class AuditRow(Base):
    __tablename__ = "staff_audit"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(40))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(20), index=True)
    detail: Mapped[str] = mapped_column(String(500), default="")


# Our copy of registration's calendar (CalendarPhaseChanged): 身份认证 runs from the opening of
# 信息确认 to the close of 网上支付 (zsb.common.calendar).
calendar_phases = calendar_table(Base.metadata)


class JobState:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"


# --- the aggregate ------------------------------------------------------------------------------


def to_case(row: CaseRow) -> IdentityCase:
    return IdentityCase(
        status=CaseStatus(row.status),
        consent_at=row.consent_at,
        consent_version=row.consent_version,
        attempts=row.attempts,
        retake_kind=PhotoKind(row.retake_kind) if row.retake_kind else None,
        retake_message=row.retake_message,
        review_reason=ReviewReason(row.review_reason) if row.review_reason else None,
        request_reason=row.request_reason,
        review_since=row.review_since,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
        concluded_at=row.concluded_at,
    )


def write_case(row: CaseRow, case: IdentityCase, now: datetime) -> None:
    row.status = case.status.value
    row.consent_at, row.consent_version = case.consent_at, case.consent_version
    row.attempts = case.attempts
    row.retake_kind = case.retake_kind.value if case.retake_kind else None
    row.retake_message = case.retake_message[:200]
    row.review_reason = case.review_reason.value if case.review_reason else None
    row.request_reason = case.request_reason[:200]
    row.review_since = case.review_since
    row.decided_at, row.decided_by = case.decided_at, case.decided_by[:40]
    row.decision_reason = case.decision_reason[:200]
    row.concluded_at = case.concluded_at
    row.updated_at = now


class Repository:
    """Reads and locks inside one unit of work."""

    def __init__(self, session: Session, is_mysql: bool) -> None:
        self.session = session
        self.is_mysql = is_mysql

    def candidate(self, candidate_no: str) -> CandidateRow | None:
        return self.session.get(CandidateRow, candidate_no)

    def case(self, candidate_no: str, for_update: bool = False) -> CaseRow | None:
        if not for_update:
            return self.session.get(CaseRow, candidate_no)
        # A row lock on MySQL; SQLite's BEGIN IMMEDIATE already serialises writers.
        return self.session.scalars(
            select(CaseRow).where(CaseRow.candidate_no == candidate_no).with_for_update()
        ).first()

    def case_or_new(self, candidate_no: str, now: datetime) -> CaseRow:
        """The case locked for update, created (collecting) on first use."""
        row = self.case(candidate_no, for_update=True)
        if row is None:
            row = CaseRow(candidate_no=candidate_no, created_at=now)
            write_case(row, IdentityCase(), now)
            self.session.add(row)
            self.session.flush()
        return row

    def photos(self, candidate_no: str, include_deleted: bool = False) -> dict[PhotoKind, PhotoRow]:
        query = select(PhotoRow).where(PhotoRow.candidate_no == candidate_no)
        if not include_deleted:
            query = query.where(PhotoRow.deleted_at.is_(None))
        return {PhotoKind(p.kind): p for p in self.session.scalars(query)}

    def jobs(self, candidate_no: str, limit: int = 20) -> list[JobRow]:
        return list(
            self.session.scalars(
                select(JobRow)
                .where(JobRow.candidate_no == candidate_no)
                .order_by(JobRow.enqueued_at.desc(), JobRow.id)
                .limit(limit)
            )
        )

    def job(self, job_id: str | None, for_update: bool = False) -> JobRow | None:
        if not job_id:
            return None
        query = select(JobRow).where(JobRow.id == job_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()
