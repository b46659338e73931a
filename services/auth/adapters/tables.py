"""Tables of the auth service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

_ID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData()


class CandidateAccount(Base):
    __tablename__ = "candidate_accounts"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    id_number_enc: Mapped[str] = mapped_column(String(200))
    id_number_hmac: Mapped[str] = mapped_column(String(64), index=True)
    phone_enc: Mapped[str] = mapped_column(String(200))
    phone_hmac: Mapped[str] = mapped_column(String(64), index=True)
    point_code: Mapped[str] = mapped_column(String(10), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    @property
    def city_code(self) -> str:
        return self.point_code[:2]


class StaffAccount(Base):
    __tablename__ = "staff_accounts"

    username: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))
    city_code: Mapped[str] = mapped_column(String(2), default="")
    point_code: Mapped[str] = mapped_column(String(10), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Session(Base):
    """A server-side session; the cookie holds a random id of which only the SHA-256 is kept."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # candidate | staff
    subject: Mapped[str] = mapped_column(String(40), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    absolute_expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class Captcha(Base):
    __tablename__ = "captchas"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    answer_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Attempt(Base):
    """A failed login, or an SMS code sent: the raw material of throttling."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # login_failed | sms_sent
    key: Mapped[str] = mapped_column(String(80))  # 'acct:candidate:2114…', 'ip:1.2.3.4', 'phone:<hmac>'
    at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_attempts_kind_key_at", "kind", "key", "at"),)


class SmsCode(Base):
    __tablename__ = "sms_codes"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    candidate_no: Mapped[str] = mapped_column(String(14), index=True)
    purpose: Mapped[str] = mapped_column(String(20), default="reset")
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class SecurityEventRow(Base):
    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str] = mapped_column(String(45))
    detail: Mapped[str] = mapped_column(Text)


class AuditLogRow(Base):
    """The platform's one audit log: this service's security events and every service's staff
    actions, collected from their events (`event_id` is the CloudEvents id, so each is kept once)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    service: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(64))
    candidate_no: Mapped[str] = mapped_column(String(14), default="")
    actor: Mapped[str] = mapped_column(String(40))
    actor_role: Mapped[str] = mapped_column(String(20), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    level: Mapped[str] = mapped_column(String(10), default="")

    # Each filter of the search is an index leading with it, then the time the page is sorted by.
    __table_args__ = (
        Index("ix_audit_log_at", "at", "id"),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_subject_at", "subject", "at"),
        Index("ix_audit_log_candidate_at", "candidate_no", "at"),
        Index("ix_audit_log_service_action_at", "service", "action", "at"),
    )
