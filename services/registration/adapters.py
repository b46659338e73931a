"""Tables and repositories of the registration service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData()


class Candidate(Base):
    """A candidate known to registration, projected from the auth service's events."""

    __tablename__ = "candidates"

    candidate_no: Mapped[str] = mapped_column(String(14), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    point_code: Mapped[str] = mapped_column(String(10), index=True)
    status: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CandidateRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, candidate_no: str) -> Candidate | None:
        return self.session.get(Candidate, candidate_no)

    def add(self, candidate: Candidate) -> None:
        self.session.add(candidate)
