"""Tables and repositories of the registration service.

One `candidates` row holds a candidate's progress (the `Registration` aggregate of the domain);
the readings of the three notices, the form, the uploaded documents, the reports (上报), the
reference data and the staff audit live in their own tables. ID and phone numbers are stored
encrypted, with HMAC blind indexes whose UNIQUE constraints make "one ID number, one phone, one
registration" hold even when two requests race.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, MetaData, String, Text, UniqueConstraint, select
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from services.registration.domain import (
    DocumentKind,
    Fact,
    FactStatus,
    Notice,
    NoticeReading,
    QualificationReview,
    QualificationStatus,
    Registration,
)
from zsb.common.calendar import calendar_table

_ID = BigInteger().with_variant(Integer(), "sqlite")
# Reference data with every point of the province outgrows TEXT's 64 KB on MySQL.
_LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


class Base(DeclarativeBase):
    metadata = MetaData()


class Candidate(Base):
    """A candidate known to registration (projected from auth's events) and their progress."""

    __tablename__ = "candidates"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    point_code: Mapped[str] = mapped_column(String(10), index=True)
    status: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    city_code: Mapped[str] = mapped_column(String(2), default="", index=True)
    candidate_type: Mapped[str] = mapped_column(String(4), default="")
    basic_info_submitted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    forms_downloaded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    abandoned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    identity_status: Mapped[str] = mapped_column(String(10), default=FactStatus.PENDING.value)
    identity_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    identity_reason: Mapped[str] = mapped_column(String(200), default="")
    payment_status: Mapped[str] = mapped_column(String(10), default=FactStatus.PENDING.value)
    payment_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    payment_reason: Mapped[str] = mapped_column(String(200), default="")
    payment_refunded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    review_status: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    review_required: Mapped[str] = mapped_column(String(100), default="")  # comma-separated kinds
    review_automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reason: Mapped[str] = mapped_column(String(400), default="")
    review_submitted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    review_decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    review_bonus_points: Mapped[int] = mapped_column(Integer, default=0)  # 奖励加分 granted on approval


class NoticeReadingRow(Base):
    """When the server first showed a notice to a candidate, and when it was acknowledged."""

    __tablename__ = "notice_readings"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    notice: Mapped[str] = mapped_column(String(20), primary_key=True)
    shown_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class BasicInfoRow(Base):
    """The submitted form: personal numbers encrypted, everything else as the form's JSON."""

    __tablename__ = "basic_infos"
    __table_args__ = (
        UniqueConstraint("id_number_hmac", name="uq_basic_infos_id_number_hmac"),
        UniqueConstraint("phone_hmac", name="uq_basic_infos_phone_hmac"),
    )

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    data_json: Mapped[str] = mapped_column(Text)  # BasicInfo.to_dict() without the numbers below
    id_number_enc: Mapped[str] = mapped_column(String(200))
    id_number_hmac: Mapped[str] = mapped_column(String(64))
    phone_enc: Mapped[str] = mapped_column(String(200))
    phone_hmac: Mapped[str] = mapped_column(String(64))
    recipient_phone_enc: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class DocumentRow(Base):
    """A file of 资料上传; the bytes are in the private object-store bucket under `object_key`."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    candidate_no: Mapped[str] = mapped_column(String(14), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    object_key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    display_name: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    page_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mismatch: Mapped[str] = mapped_column(String(200), default="")
    uploaded_at: Mapped[datetime] = mapped_column(DateTime)


class ReportRow(Base):
    """上报 of a point or a city, and whether the province allows withdrawing it."""

    __tablename__ = "reports"

    scope: Mapped[str] = mapped_column(String(10), primary_key=True)  # point | city
    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    reported: Mapped[bool] = mapped_column(Boolean, default=False)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reported_by: Mapped[str] = mapped_column(String(40), default="")
    withdrawal_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ReferenceDataRow(Base):
    """The province's drop-down lists; absent until the province first replaces the seed."""

    __tablename__ = "reference_data"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    version: Mapped[int] = mapped_column(Integer)
    data_json: Mapped[str] = mapped_column(_LONG_TEXT)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(40))


class AuditRow(Base):
    """Every staff decision (review, report, withdrawal, reference data)."""

    __tablename__ = "staff_audit"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(40))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(20), index=True)
    detail: Mapped[str] = mapped_column(String(500), default="")


# --- the aggregate ------------------------------------------------------------------------------


def to_registration(row: Candidate, readings: list[NoticeReadingRow]) -> Registration:
    """The domain value of a stored registration."""
    review = None
    if row.review_status:
        review = QualificationReview(
            required=frozenset(DocumentKind(k) for k in row.review_required.split(",") if k),
            status=QualificationStatus(row.review_status),
            automatic=row.review_automatic,
            reason=row.review_reason,
            submitted_at=row.review_submitted_at,
            decided_at=row.review_decided_at,
            bonus_points=row.review_bonus_points or 0,
        )
    return Registration(
        notices={
            Notice(r.notice): NoticeReading(shown_at=r.shown_at, acknowledged_at=r.acknowledged_at) for r in readings
        },
        basic_info_submitted_at=row.basic_info_submitted_at,
        confirmed_at=row.confirmed_at,
        identity=Fact(FactStatus(row.identity_status), row.identity_at, row.identity_reason),
        payment=Fact(FactStatus(row.payment_status), row.payment_at, row.payment_reason),
        qualification=review,
        forms_downloaded_at=row.forms_downloaded_at,
        abandoned_at=row.abandoned_at,
    )


class CandidateRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, candidate_no: str, for_update: bool = False) -> Candidate | None:
        if not for_update:
            return self.session.get(Candidate, candidate_no)
        # A row lock on MySQL; SQLite's BEGIN IMMEDIATE already serialises writers.
        return self.session.scalars(
            select(Candidate).where(Candidate.candidate_no == candidate_no).with_for_update()
        ).first()

    def add(self, candidate: Candidate) -> None:
        self.session.add(candidate)

    def readings(self, candidate_no: str) -> list[NoticeReadingRow]:
        return list(self.session.scalars(select(NoticeReadingRow).where(NoticeReadingRow.candidate_no == candidate_no)))

    def load(self, row: Candidate) -> Registration:
        return to_registration(row, self.readings(row.candidate_no))

    def save(self, row: Candidate, reg: Registration) -> None:
        """Write the aggregate back to its row and the notice readings."""
        row.basic_info_submitted_at = reg.basic_info_submitted_at
        row.confirmed_at = reg.confirmed_at
        row.forms_downloaded_at = reg.forms_downloaded_at
        row.abandoned_at = reg.abandoned_at
        row.identity_status, row.identity_at, row.identity_reason = (
            reg.identity.status.value,
            reg.identity.at,
            reg.identity.reason[:200],
        )
        row.payment_status, row.payment_at, row.payment_reason = (
            reg.payment.status.value,
            reg.payment.at,
            reg.payment.reason[:200],
        )
        review = reg.qualification
        if review is not None:
            row.review_status = review.status.value
            row.review_required = ",".join(sorted(k.value for k in review.required))
            row.review_automatic = review.automatic
            row.review_reason = review.reason
            row.review_submitted_at = review.submitted_at
            row.review_decided_at = review.decided_at
            row.review_bonus_points = review.bonus_points
        row.status = reg.status.value
        stored = {r.notice: r for r in self.readings(row.candidate_no)}
        for notice, reading in reg.notices.items():
            existing = stored.get(notice.value)
            if existing is None:
                self.session.add(
                    NoticeReadingRow(
                        candidate_no=row.candidate_no,
                        notice=notice.value,
                        shown_at=reading.shown_at,
                        acknowledged_at=reading.acknowledged_at,
                    )
                )
            else:
                existing.shown_at, existing.acknowledged_at = reading.shown_at, reading.acknowledged_at


# The calendar of the year, owned here (the province sets it); other services keep the same table
# as a projection of CalendarPhaseChanged.
calendar_phases = calendar_table(Base.metadata)


# --- content of the home and guide pages (2.6), edited by the province ---------------------------


class SiteNoticeRow(Base):
    """A notice on the candidate home and login pages, shown from `published_at` on."""

    __tablename__ = "site_notices"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(40))


class SitePageRow(Base):
    """报名操作流程 (process) and 考生使用说明 (manual) as plain text."""

    __tablename__ = "site_pages"

    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(40))


class HotlineRow(Base):
    """A line of 网上报名咨询电话: a city's own (no point) or a registration point's."""

    __tablename__ = "hotlines"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    city_code: Mapped[str] = mapped_column(String(2))
    point_code: Mapped[str] = mapped_column(String(10), default="")
    phone: Mapped[str] = mapped_column(String(40))
    hours: Mapped[str] = mapped_column(String(60), default="")
