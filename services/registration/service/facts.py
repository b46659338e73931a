"""Facts other services publish, recorded on the registration (each runs in the consumer's transaction).

A fact is recorded whenever it arrives, even before the account's own event or after 放弃报名:
a consumer must never fail on a true fact. Redeliveries are dropped by the idempotent consumer,
and the domain keeps the first success, so a repeat changes nothing either way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from services.registration.adapters import Candidate, CandidateRepository
from services.registration.domain import Registration, RegistrationStatus
from zsb.common.clock import utcnow


def _row(session: Session, candidate_no: str) -> Candidate:
    """The candidate's row, locked; a placeholder when this fact overtook the account's event."""
    repo = CandidateRepository(session)
    row = repo.get(candidate_no, for_update=True)
    if row is None:
        row = Candidate(
            candidate_no=candidate_no,
            name="",
            point_code="",
            city_code="",
            status=RegistrationStatus.NOT_STARTED.value,
            created_at=utcnow(),
        )
        repo.add(row)
        session.flush()
    return row


def open_registration(session: Session, candidate_no: str, name: str, point_code: str) -> None:
    """A new account gets an empty registration; a repeat of the same fact changes nothing."""
    row = _row(session, candidate_no)
    if not row.point_code:  # new, or a placeholder made by an earlier fact
        row.name, row.point_code, row.city_code = name, point_code, point_code[:2]


def record(session: Session, candidate_no: str, change: Callable[[Registration], Registration]) -> None:
    row = _row(session, candidate_no)
    repo = CandidateRepository(session)
    repo.save(row, change(repo.load(row)))


def at_or_now(at: datetime | None) -> datetime:
    return at or utcnow()


def record_refund(session: Session, candidate_no: str, at: datetime) -> None:
    row = _row(session, candidate_no)
    if row.payment_refunded_at is None:
        row.payment_refunded_at = at
