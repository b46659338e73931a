"""Tables of 表格下载 and the exam arrangement (migration 0003), on the service's metadata.

`exam_settings` has one row (id 1, made by the migration): the exam's title, the seed, and
`plan_version`, bumped by every change of sites, rooms or timetable (the printing window is the
calendar's 准考证打印 phase since migration 0006). Arrangement use cases lock that row first,
so two staff members cannot run or publish at the same time.
Seat assignments carry UNIQUE constraints: one seat per candidate and one candidate per seat in
each arrangement, whatever the code above them does.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.registration.adapters import Base

_ID = BigInteger().with_variant(Integer(), "sqlite")


class ExamSettingsRow(Base):
    __tablename__ = "exam_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    exam_title: Mapped[str] = mapped_column(String(60))
    arrangement_seed: Mapped[str] = mapped_column(String(40))
    plan_version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(40), default="")


class ExamSiteRow(Base):
    """考点."""

    __tablename__ = "exam_sites"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    city_code: Mapped[str] = mapped_column(String(2), index=True)
    address: Mapped[str] = mapped_column(String(120))


class ExamRoomRow(Base):
    """考场 of a site, with its number of seats."""

    __tablename__ = "exam_rooms"
    __table_args__ = (UniqueConstraint("site_code", "room_no", name="uq_exam_rooms_site_room"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    site_code: Mapped[str] = mapped_column(String(10), ForeignKey("exam_sites.code"), index=True)
    room_no: Mapped[str] = mapped_column(String(10))
    capacity: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(60), default="")


class ExamSessionRow(Base):
    """One subject of a category's timetable, in Beijing time (a local exam schedule)."""

    __tablename__ = "exam_sessions"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    major_category: Mapped[str] = mapped_column(String(4), index=True)
    subject: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    start: Mapped[str] = mapped_column(String(5))  # HH:MM
    end: Mapped[str] = mapped_column(String(5))


class ArrangementRow(Base):
    """One run of the arrangement: draft → published → superseded (or discarded)."""

    __tablename__ = "arrangements"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    seed: Mapped[str] = mapped_column(String(40))
    kept_published: Mapped[bool] = mapped_column(default=False)  # seats of the published run were kept
    plan_version: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(40))
    published_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    published_by: Mapped[str] = mapped_column(String(40), default="")


class SeatAssignmentRow(Base):
    __tablename__ = "seat_assignments"
    __table_args__ = (
        UniqueConstraint("arrangement_id", "candidate_no", name="uq_seat_assignments_candidate"),
        UniqueConstraint("arrangement_id", "room_id", "seat_no", name="uq_seat_assignments_seat"),
        UniqueConstraint("arrangement_id", "ticket_serial", name="uq_seat_assignments_serial"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    arrangement_id: Mapped[int] = mapped_column(_ID, ForeignKey("arrangements.id"), index=True)
    candidate_no: Mapped[str] = mapped_column(String(14), index=True)
    city_code: Mapped[str] = mapped_column(String(2))
    major_category: Mapped[str] = mapped_column(String(4))
    site_code: Mapped[str] = mapped_column(String(10))
    room_id: Mapped[int] = mapped_column(_ID)
    room_no: Mapped[str] = mapped_column(String(10))
    seat_no: Mapped[int] = mapped_column(Integer)
    ticket_serial: Mapped[str] = mapped_column(String(24), index=True)


class TicketPledgeRow(Base):
    """When the 考生诚信考试承诺书 was first shown to a candidate and when they agreed."""

    __tablename__ = "ticket_pledges"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    shown_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PaymentReceiptRow(Base):
    """The fee paid, from the payment service's PaymentSucceeded (printed on the 报名信息登记表)."""

    __tablename__ = "payment_receipts"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    order_no: Mapped[str] = mapped_column(String(64), default="")
    provider: Mapped[str] = mapped_column(String(20), default="")
    paid_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
