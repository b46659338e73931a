"""Tables of the payment service. Times are naive UTC; money is integer fen (BIGINT)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from zsb.common.calendar import calendar_table

_ID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData()


class FeeRow(Base):
    """The province's fee per 考生类别."""

    __tablename__ = "fees"

    category_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    category_name: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(40))


class CandidateRow(Base):
    """Our projection of a candidate from identity and registration events, plus two guards:
    `open_order_no` (one open order at a time) and `paid_order_no` (the fee is paid once)."""

    __tablename__ = "candidates"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(60), default="")
    category_code: Mapped[str] = mapped_column(String(4), default="")
    city_code: Mapped[str] = mapped_column(String(2), default="", index=True)
    point_code: Mapped[str] = mapped_column(String(10), default="", index=True)
    identity_verified_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    abandoned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    open_order_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    paid_order_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    refund_decision: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class OrderRow(Base):
    __tablename__ = "orders"

    order_no: Mapped[str] = mapped_column(String(32), primary_key=True)  # our out_trade_no
    candidate_no: Mapped[str] = mapped_column(String(14), index=True)
    provider: Mapped[str] = mapped_column(String(10))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    category_code: Mapped[str] = mapped_column(String(4))
    description: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime)  # whole seconds: UnionPay's txnTime
    created_us: Mapped[int] = mapped_column(BigInteger)  # microseconds since the epoch: orders attempts in a second
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    action_kind: Mapped[str] = mapped_column(String(10), default="")
    action_url: Mapped[str] = mapped_column(Text, default="")
    action_fields: Mapped[str] = mapped_column(Text, default="")  # JSON object (UnionPay's form)
    provider_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    paid_via: Mapped[str] = mapped_column(String(10), default="")
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    end_reason: Mapped[str] = mapped_column(String(100), default="")
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    check_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_queried_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        # One provider transaction pays one order of ours, never two.
        UniqueConstraint("provider", "provider_trade_no", name="uq_orders_provider_trade_no"),
        Index("ix_orders_state_next_check", "state", "next_check_at"),
        Index("ix_orders_paid_at", "provider", "paid_at"),
    )


class RefundRow(Base):
    __tablename__ = "refunds"

    refund_no: Mapped[str] = mapped_column(String(32), primary_key=True)  # our out_refund_no
    # One refund per order: the whole payment goes back at most once.
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    candidate_no: Mapped[str] = mapped_column(String(14), index=True)
    provider: Mapped[str] = mapped_column(String(10))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(100))
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(12))
    requested_at: Mapped[datetime] = mapped_column(DateTime)  # whole seconds: UnionPay's txnTime
    provider_refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    check_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_refunds_state_next_check", "state", "next_check_at"),
        Index("ix_refunds_succeeded_at", "provider", "succeeded_at"),
    )


class NotificationRow(Base):
    """Every notification received, accepted or not (the body itself is not kept: its hash is)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    provider: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10), default="")
    order_no: Mapped[str] = mapped_column(String(64), default="", index=True)
    refund_no: Mapped[str] = mapped_column(String(64), default="")
    dedup_key: Mapped[str] = mapped_column(String(160), default="", index=True)
    outcome: Mapped[str] = mapped_column(String(12))  # handled | duplicate | rejected | error
    reason: Mapped[str] = mapped_column(String(40), default="")
    remote_addr: Mapped[str] = mapped_column(String(45), default="")
    body_sha256: Mapped[str] = mapped_column(String(64))


class AuditRow(Base):
    """Alerts (money-safety events: forged, stale, mismatched, failed refunds, differences) and
    staff decisions (fees, reconciliation runs)."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    level: Mapped[str] = mapped_column(String(10), index=True)  # alert | audit
    kind: Mapped[str] = mapped_column(String(40), index=True)
    provider: Mapped[str] = mapped_column(String(10), default="")
    order_no: Mapped[str] = mapped_column(String(64), default="")
    actor: Mapped[str] = mapped_column(String(40), default="")
    remote_addr: Mapped[str] = mapped_column(String(45), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")


class ReconciliationRow(Base):
    __tablename__ = "reconciliations"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(10))
    bill_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # matched | differences | error
    started_at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(40))
    statement_entries: Mapped[int] = mapped_column(Integer, default=0)
    statement_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    statement_refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    our_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    our_refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    statement_key: Mapped[str] = mapped_column(String(200), default="")  # the raw file in the object store
    error: Mapped[str] = mapped_column(String(500), default="")

    __table_args__ = (Index("ix_reconciliations_provider_date", "provider", "bill_date"),)


class DifferenceRow(Base):
    __tablename__ = "reconciliation_differences"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(_ID, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    order_no: Mapped[str] = mapped_column(String(64))
    refund_no: Mapped[str] = mapped_column(String(64), default="")
    ours_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    theirs_fen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ours_state: Mapped[str] = mapped_column(String(12), default="")
    theirs_state: Mapped[str] = mapped_column(String(12), default="")
    note: Mapped[str] = mapped_column(String(200), default="")


# Our copy of registration's calendar (CalendarPhaseChanged): 网上支付 is open only in its window.
calendar_phases = calendar_table(Base.metadata)
