"""The eligibility projection: each handler runs inside the idempotent consumer's transaction.

Events of different topics may arrive in any order, so every handler creates the candidate's
row when it is missing, and facts that an earlier event could contradict keep the later `at`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from services.preferences.adapters import CandidateRow, HeadRow, PaymentRow
from services.preferences.domain.eligibility import Facts
from services.preferences.service.common import publish, timestamp
from zsb.common.clock import utcnow
from zsb.events.v1 import payment_events_pb2 as payment_ev
from zsb.events.v1 import preferences_events_pb2 as ev
from zsb.events.v1 import registration_events_pb2 as registration_ev


def _at(message_at: object) -> datetime:
    """The event's own time (naive UTC); an event without one counts as now."""
    seconds = getattr(message_at, "seconds", 0)
    return message_at.ToDatetime() if seconds else utcnow()  # type: ignore[attr-defined]


def candidate_row(session: Session, candidate_no: str, for_update: bool = True) -> CandidateRow:
    row = session.get(CandidateRow, candidate_no, with_for_update=for_update)
    if row is None:
        row = CandidateRow(
            candidate_no=candidate_no,
            name="",
            city_code="",
            point_code="",
            candidate_category="",
            major_category="",
            poverty_registered=False,
            identity_passed=False,
            qualification_approved=False,
            updated_at=utcnow(),
        )
        session.add(row)
        session.flush()  # a concurrent creator fails here; the consumer retries and finds the row
    return row


def facts(session: Session, row: CandidateRow | None) -> Facts:
    if row is None:
        return Facts()
    paid = session.scalar(
        select(
            exists().where(
                PaymentRow.candidate_no == row.candidate_no,
                PaymentRow.paid_at.is_not(None),
                PaymentRow.refunded_at.is_(None),
            )
        )
    )
    return Facts(
        confirmed=row.confirmed_at is not None,
        abandoned=row.abandoned_at is not None,
        identity_passed=row.identity_passed,
        paid=bool(paid),
        qualification_approved=row.qualification_approved,
        poverty_registered=row.poverty_registered,
        major_category=row.major_category,
    )


def on_confirmed(session: Session, e: registration_ev.RegistrationConfirmed) -> None:
    row = candidate_row(session, e.candidate_no)
    row.name, row.city_code, row.point_code = e.name[:60], e.city_code[:2], e.point_code[:10]
    row.candidate_category, row.major_category = e.candidate_category[:4], e.major_category[:4]
    row.poverty_registered = e.poverty_registered
    row.confirmed_at = _at(e.at)
    row.updated_at = utcnow()


def on_abandoned(session: Session, e: registration_ev.RegistrationAbandoned) -> None:
    """放弃报名 ends eligibility for good; preferences already submitted no longer count."""
    row = candidate_row(session, e.candidate_no)
    at = _at(e.at)
    if row.abandoned_at is None:
        row.abandoned_at = at
    row.updated_at = utcnow()
    heads = session.scalars(
        select(HeadRow).where(HeadRow.candidate_no == e.candidate_no, HeadRow.withdrawn_at.is_(None))
    ).all()
    for head in heads:
        head.withdrawn_at = at
        publish(
            session,
            e.candidate_no,
            ev.PreferencesWithdrawn(
                candidate_no=e.candidate_no,
                batch_code=head.batch_code,
                version=head.number,
                reason="registration_abandoned",
                at=timestamp(at),
            ),
        )


def _decide(row: CandidateRow, attr: str, at_attr: str, value: bool, at: datetime) -> None:
    """Set a decided fact unless a later decision is already recorded."""
    previous = getattr(row, at_attr)
    if previous is None or at >= previous:
        setattr(row, attr, value)
        setattr(row, at_attr, at)
        row.updated_at = utcnow()


def on_qualification(session: Session, candidate_no: str, approved: bool, at: object) -> None:
    _decide(candidate_row(session, candidate_no), "qualification_approved", "qualification_at", approved, _at(at))


def on_identity(session: Session, candidate_no: str, passed: bool, at: object) -> None:
    """A passed identity check is final (as the registration service shows it): a late failure
    of another attempt does not take it back."""
    row = candidate_row(session, candidate_no)
    if row.identity_passed and not passed:
        return
    _decide(row, "identity_passed", "identity_at", passed, _at(at))


def _payment(session: Session, candidate_no: str, order_no: str) -> PaymentRow:
    candidate_row(session, candidate_no)  # the lock that serialises this candidate's updates
    row = session.get(PaymentRow, (candidate_no, order_no[:64]))
    if row is None:
        row = PaymentRow(candidate_no=candidate_no, order_no=order_no[:64])
        session.add(row)
    return row


def on_paid(session: Session, e: payment_ev.PaymentSucceeded) -> None:
    row = _payment(session, e.candidate_no, e.order_no)
    row.paid_at = row.paid_at or _at(e.paid_at)


def on_refunded(session: Session, e: payment_ev.PaymentRefunded) -> None:
    if e.duplicate:
        return  # a second payment of an already paid fee went back: the registration stays paid
    row = _payment(session, e.candidate_no, e.order_no)
    row.refunded_at = row.refunded_at or _at(e.at)
