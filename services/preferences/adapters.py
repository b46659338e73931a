"""Tables of the preferences service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

_ID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData()


# ---- plan (reference data the province imports) ----


class BatchRow(Base):
    """The two batches exist from the first migration; the province sets order and windows."""

    __tablename__ = "batches"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)
    poverty_only: Mapped[bool] = mapped_column(Boolean)
    opens_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closes_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(40), default="")


class PlanStateRow(Base):
    """One row: the plan's version. Imports lock it exclusively, submissions share-lock it, so a
    submission never validates against a plan that an import is replacing."""

    __tablename__ = "plan_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    imported_by: Mapped[str] = mapped_column(String(40), default="")


class InstitutionRow(Base):
    __tablename__ = "institutions"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)  # 院校代号
    name: Mapped[str] = mapped_column(String(60))


class MajorRow(Base):
    __tablename__ = "majors"

    institution_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    code: Mapped[str] = mapped_column(String(10), primary_key=True)  # 专业代号, unique within its institution
    name: Mapped[str] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(4))  # 报考专业类别


class PlanLineRow(Base):
    """Places of one major in one batch; the major's category is copied here for the lookups."""

    __tablename__ = "plan_lines"

    batch_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    major_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    category: Mapped[str] = mapped_column(String(4))
    places: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_plan_lines_batch_category", "batch_code", "category"),)


# ---- eligibility: a projection of the other services' events ----


class CandidateRow(Base):
    """What this service knows of a candidate. Also the row a submission locks, so that one
    candidate's submissions are serialised."""

    __tablename__ = "candidates"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(60), default="")
    city_code: Mapped[str] = mapped_column(String(2), default="")
    point_code: Mapped[str] = mapped_column(String(10), default="")
    candidate_category: Mapped[str] = mapped_column(String(4), default="")
    major_category: Mapped[str] = mapped_column(String(4), default="")
    poverty_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    abandoned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    identity_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    identity_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    qualification_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    qualification_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PaymentRow(Base):
    """A fee order: paid unless refunded. A refund may be seen before its payment."""

    __tablename__ = "payments"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# ---- preferences ----


class HeadRow(Base):
    """The current version of one candidate's preferences in one batch."""

    __tablename__ = "preference_heads"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    batch_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    current_version_id: Mapped[int] = mapped_column(_ID)
    number: Mapped[int] = mapped_column(Integer)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class VersionRow(Base):
    """One 确认提交: saved whole with its items, never changed afterwards."""

    __tablename__ = "preference_versions"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    candidate_no: Mapped[str] = mapped_column(String(14))
    batch_code: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("candidate_no", "batch_code", "number", name="uq_versions_number"),
        UniqueConstraint("candidate_no", "idempotency_key", name="uq_versions_key"),
    )


class ItemRow(Base):
    __tablename__ = "preference_items"

    version_id: Mapped[int] = mapped_column(_ID, primary_key=True)
    slot: Mapped[str] = mapped_column(String(1), primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(10))
    institution_name: Mapped[str] = mapped_column(String(60))
    major_code: Mapped[str] = mapped_column(String(10))
    major_name: Mapped[str] = mapped_column(String(60))


class StaffActionRow(Base):
    __tablename__ = "staff_actions"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(40))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
