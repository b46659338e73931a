"""What registration's events tell us about a candidate: name, city and point (staff scope),
信息确认 (identity verification opens) and 放弃报名. Each runs in the consumer's transaction.

Every handler is an upsert that a redelivery leaves unchanged (the idempotent consumer drops
exact redeliveries anyway); the first confirmation and abandonment times are kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.identity.adapters import CandidateRow
from zsb.common.clock import utcnow


def _row(session: Session, candidate_no: str) -> CandidateRow:
    row = session.scalars(
        select(CandidateRow).where(CandidateRow.candidate_no == candidate_no).with_for_update()
    ).first()
    if row is None:
        row = CandidateRow(candidate_no=candidate_no, name="", city_code="", point_code="", updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def _place(row: CandidateRow, city_code: str, point_code: str) -> None:
    if point_code:
        row.point_code = point_code[:10]
        row.city_code = (city_code or point_code[:2])[:2]


def record_submitted(session: Session, candidate_no: str, city_code: str, point_code: str) -> None:
    """填写基本信息 saved: the point may still change until 信息确认."""
    row = _row(session, candidate_no)
    if row.confirmed_at is None:
        _place(row, city_code, point_code)
    row.updated_at = utcnow()


def record_confirmed(
    session: Session, candidate_no: str, name: str, city_code: str, point_code: str, at: datetime
) -> None:
    """信息确认: the facts are fixed and 身份认证 opens."""
    row = _row(session, candidate_no)
    row.name = name[:60] or row.name
    _place(row, city_code, point_code)
    if row.confirmed_at is None:
        row.confirmed_at = at
    row.updated_at = utcnow()


def record_abandoned(session: Session, candidate_no: str, city_code: str, point_code: str, at: datetime) -> None:
    row = _row(session, candidate_no)
    if not row.point_code:
        _place(row, city_code, point_code)
    if row.abandoned_at is None:
        row.abandoned_at = at
    row.updated_at = utcnow()
