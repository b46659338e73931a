"""Tables and repositories of the auth service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, MetaData, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


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


class AccountRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def existing_numbers(self, numbers: list[str]) -> set[str]:
        rows = self.session.scalars(
            select(CandidateAccount.candidate_no).where(CandidateAccount.candidate_no.in_(numbers))
        )
        return set(rows)

    def add(self, account: CandidateAccount) -> None:
        self.session.add(account)

    def get(self, candidate_no: str) -> CandidateAccount | None:
        return self.session.get(CandidateAccount, candidate_no)
