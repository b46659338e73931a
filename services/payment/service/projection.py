"""Our projection of other services' facts (identity, registration), kept by the consumers.

Each handler runs inside the consumer's transaction (with the event's ce_id recorded), so a
redelivered event changes nothing. Facts are recorded whenever they arrive, in any order.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import update
from sqlalchemy.orm import Session

from services.payment.adapters.tables import CandidateRow
from services.payment.domain.orders import OrderState
from services.payment.domain.refunds import RefundPolicy
from services.payment.service import settlement
from services.payment.service.settlement import load_candidate, load_order
from zsb.common.clock import utcnow

log = logging.getLogger("payment")


def event_time(ts: Timestamp) -> datetime:
    """The event's time as stored (naive UTC, whole seconds); now when the producer left it out."""
    moment = ts.ToDatetime() if (ts.seconds or ts.nanos) else utcnow()
    return moment.replace(microsecond=0)


def _ensure(session: Session, candidate_no: str, now: datetime) -> CandidateRow:
    row = load_candidate(session, candidate_no)
    if row is None:
        row = CandidateRow(
            candidate_no=candidate_no,
            name="",
            category_code="",
            city_code="",
            point_code="",
            refund_decision="",
            updated_at=now,
        )
        session.add(row)
        session.flush()
    return row


def _set(session: Session, candidate_no: str, **values: object) -> None:
    session.execute(
        update(CandidateRow)
        .where(CandidateRow.candidate_no == candidate_no)
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )


def identity_verified(session: Session, candidate_no: str, at: datetime) -> None:
    """IdentityVerified or IdentityManuallyApproved: the candidate may pay (after 信息确认). Final."""
    row = _ensure(session, candidate_no, at)
    if row.identity_verified_at is None:
        _set(session, candidate_no, identity_verified_at=at)


def registration_confirmed(
    session: Session, candidate_no: str, *, name: str, category_code: str, city_code: str, point_code: str, at: datetime
) -> None:
    """RegistrationConfirmed: the facts the fee depends on (考生类别) and the staff scope."""
    row = _ensure(session, candidate_no, at)
    _set(
        session,
        candidate_no,
        name=name[:60],
        category_code=category_code[:4],
        city_code=city_code[:2],
        point_code=point_code[:10],
        confirmed_at=row.confirmed_at or at,
    )


def registration_abandoned(
    session: Session,
    candidate_no: str,
    *,
    at: datetime,
    policy: RefundPolicy,
    close_grace_seconds: int,
    now: datetime,
) -> None:
    """放弃报名: no more payments; an open order is retired; a paid fee is refunded if the policy says so."""
    row = _ensure(session, candidate_no, at)
    if row.abandoned_at is not None:
        return
    _set(session, candidate_no, abandoned_at=at)
    if row.open_order_no:
        order = load_order(session, row.open_order_no)
        if order is not None:
            handed_out = order.state == OrderState.PAYING.value and bool(order.action_kind)
            check_at = order.expires_at if handed_out else now
            settlement.supersede(
                session,
                order.order_no,
                reason="已放弃报名",
                check_at=check_at.replace(microsecond=0) + timedelta(seconds=close_grace_seconds),
                now=now,
            )
    if row.paid_order_no:
        refund, why = policy.decide(at)
        decision = why
        if refund:
            refund_no = settlement.request_refund(session, row.paid_order_no, why, duplicate=False, now=now)
            decision = f"{why}：已申请退款" if refund_no else f"{why}：订单当前不能退款"
        _set(session, candidate_no, refund_decision=decision[:100])
        log.info("abandoned after payment", extra={"candidate_no": candidate_no, "decision": decision})
