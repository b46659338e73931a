"""The transitions that move money, each guarded in the database, each inside the caller's transaction.

Every one is a conditional UPDATE on the state the domain allows (`WHERE state IN (...)`): when two
paths race (a notification and a query, two replicas, a redelivery) exactly one matches a row and
does the work, the other finds nothing to do. The unique keys back this up: one provider
transaction per order (`uq_orders_provider_trade_no`), one refund per order, and the candidate's
`paid_order_no` that only the first payment may set (a second one is refunded).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.payment.adapters.tables import CandidateRow, OrderRow, RefundRow
from services.payment.domain import orders as rules
from services.payment.domain import refunds as refund_rules
from services.payment.domain.orders import OrderState, new_number
from services.payment.domain.refunds import RefundState
from services.payment.providers.base import AmountMismatch
from services.payment.service import audit
from zsb.common.outbox import add_event
from zsb.events.v1 import payment_events_pb2 as events

log = logging.getLogger("payment")
SERVICE = "payment"


def aware(naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=UTC)


def naive(moment: datetime | None, default: datetime) -> datetime:
    """A provider's aware time as stored (naive UTC), or `default` when the provider gave none."""
    if moment is None:
        return default
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)


def _ts(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def load_order(session: Session, order_no: str) -> OrderRow | None:
    return session.execute(
        select(OrderRow).where(OrderRow.order_no == order_no).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def load_candidate(session: Session, candidate_no: str) -> CandidateRow | None:
    return session.execute(
        select(CandidateRow).where(CandidateRow.candidate_no == candidate_no).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _move(session: Session, order_no: str, transition: str, now: datetime, **values: object) -> bool:
    """The conditional UPDATE of one order transition; True when this call made it."""
    target = rules.target(transition)
    result = session.execute(
        update(OrderRow)
        .where(OrderRow.order_no == order_no, OrderRow.state.in_([s.value for s in rules.allowed_from(transition)]))
        .values(state=target.value, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _release_open(session: Session, candidate_no: str, order_no: str, now: datetime) -> None:
    session.execute(
        update(CandidateRow)
        .where(CandidateRow.candidate_no == candidate_no, CandidateRow.open_order_no == order_no)
        .values(open_order_no=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------- payments


def settle_payment(
    session: Session,
    order_no: str,
    *,
    provider_trade_no: str,
    amount_fen: int,
    paid_at: datetime,
    via: str,
    now: datetime,
) -> bool:
    """A verified payment of this order: True when this call recorded it, False when it already was.

    The first payment of a candidate's fee publishes PaymentSucceeded; any other (a second order
    paid, or a payment after 放弃报名) is real money too: it is recorded, flagged and refunded.
    """
    order = load_order(session, order_no)
    if order is None:
        raise LookupError(order_no)
    if amount_fen != order.amount_fen:  # the callers check this too; money is checked twice
        raise AmountMismatch(f"order {order_no}: provider says {amount_fen} fen, our order is {order.amount_fen} fen")
    if not _move(
        session,
        order_no,
        "pay",
        now,
        provider_trade_no=provider_trade_no,
        paid_at=paid_at,
        paid_via=via,
        next_check_at=None,
        ended_at=None,
        end_reason="",
    ):
        current = load_order(session, order_no)
        if current is not None and current.provider_trade_no and current.provider_trade_no != provider_trade_no:
            audit.alert_in(
                session,
                "conflicting_transaction",
                f"order already paid by {current.provider_trade_no}, provider now names {provider_trade_no}",
                provider=order.provider,
                order_no=order_no,
            )
        return False
    first = (
        session.execute(
            update(CandidateRow)
            .where(
                CandidateRow.candidate_no == order.candidate_no,
                CandidateRow.paid_order_no.is_(None),
                CandidateRow.abandoned_at.is_(None),
            )
            .values(paid_order_no=order_no, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    _release_open(session, order.candidate_no, order_no, now)
    if first:
        add_event(
            session,
            SERVICE,
            order.candidate_no,
            events.PaymentSucceeded(
                candidate_no=order.candidate_no,
                order_no=order_no,
                provider=order.provider,
                amount_fen=order.amount_fen,
                provider_txn_id=provider_trade_no,
                paid_at=_ts(paid_at),
                category_code=order.category_code,
            ),
        )
        log.info("payment settled", extra={"order_no": order_no, "via": via, "candidate_no": order.candidate_no})
        return True
    candidate = load_candidate(session, order.candidate_no)
    reason = (
        refund_rules.REASON_AFTER_ABANDON
        if candidate is not None and candidate.abandoned_at is not None and candidate.paid_order_no is None
        else refund_rules.REASON_DUPLICATE
    )
    session.execute(
        update(OrderRow)
        .where(OrderRow.order_no == order_no)
        .values(duplicate=True)
        .execution_options(synchronize_session=False)
    )
    request_refund(session, order_no, reason, duplicate=True, now=now)
    audit.alert_in(
        session,
        "duplicate_payment",
        f"{reason}: candidate {order.candidate_no} paid order {order_no} ({order.amount_fen} fen); refund requested",
        provider=order.provider,
        order_no=order_no,
    )
    return True


def end_order(
    session: Session, order_no: str, *, failed: bool, reason: str, now: datetime, announce: bool = True
) -> bool:
    """Close (or fail) an unpaid order. With `announce`, PaymentFailed tells the registration when
    the candidate has no payment and no other order open (not for a superseded order)."""
    order = load_order(session, order_no)
    if order is None or not _move(
        session, order_no, "fail" if failed else "close", now, ended_at=now, end_reason=reason[:100], next_check_at=None
    ):
        return False
    _release_open(session, order.candidate_no, order_no, now)
    candidate = load_candidate(session, order.candidate_no)
    if announce and candidate is not None and candidate.paid_order_no is None and candidate.open_order_no is None:
        add_event(
            session,
            SERVICE,
            order.candidate_no,
            events.PaymentFailed(
                candidate_no=order.candidate_no, order_no=order_no, provider=order.provider, reason=reason, at=_ts(now)
            ),
        )
    return True


def supersede(session: Session, order_no: str, *, reason: str, check_at: datetime, now: datetime) -> bool:
    """Take an open order out of use; the jobs close it at the provider once it cannot be paid."""
    order = load_order(session, order_no)
    if order is None or not _move(session, order_no, "supersede", now, end_reason=reason[:100], next_check_at=check_at):
        return False
    _release_open(session, order.candidate_no, order_no, now)
    return True


# ---------------------------------------------------------------- refunds


def request_refund(session: Session, order_no: str, reason: str, *, duplicate: bool, now: datetime) -> str | None:
    """Decide to refund a paid order in full; the jobs send it. None when it is not refundable now."""
    order = load_order(session, order_no)
    if order is None or not _move(session, order_no, "refund", now):
        return None
    refund_no = new_number("RF", now)
    session.add(
        RefundRow(
            refund_no=refund_no,
            order_no=order_no,
            candidate_no=order.candidate_no,
            provider=order.provider,
            amount_fen=order.amount_fen,
            reason=reason[:100],
            duplicate=duplicate,
            state=RefundState.REQUESTED.value,
            requested_at=now.replace(microsecond=0),
            next_check_at=now,
            check_attempts=0,
            last_error="",
            updated_at=now,
        )
    )
    session.flush()  # the unique order_no is checked here, inside this transaction
    log.info("refund requested", extra={"order_no": order_no, "refund_no": refund_no, "reason": reason})
    return refund_no


def _move_refund(
    session: Session,
    refund_no: str,
    allowed: frozenset[RefundState],
    target: RefundState,
    now: datetime,
    **values: object,
) -> bool:
    result = session.execute(
        update(RefundRow)
        .where(RefundRow.refund_no == refund_no, RefundRow.state.in_([s.value for s in allowed]))
        .values(state=target.value, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def load_refund(session: Session, refund_no: str) -> RefundRow | None:
    return session.execute(
        select(RefundRow).where(RefundRow.refund_no == refund_no).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def refund_accepted(
    session: Session, refund_no: str, provider_refund_id: str, now: datetime, check_at: datetime
) -> bool:
    return _move_refund(
        session,
        refund_no,
        refund_rules.ACCEPTED_FROM,
        RefundState.PROCESSING,
        now,
        provider_refund_id=provider_refund_id or None,
        next_check_at=check_at,
    )


def settle_refund(
    session: Session, refund_no: str, *, provider_refund_id: str, amount_fen: int, succeeded_at: datetime, now: datetime
) -> bool:
    """A verified refund: True when this call recorded it (and published PaymentRefunded)."""
    refund = load_refund(session, refund_no)
    if refund is None:
        raise LookupError(refund_no)
    if amount_fen != refund.amount_fen:
        raise AmountMismatch(f"refund {refund_no}: provider says {amount_fen} fen, ours is {refund.amount_fen} fen")
    if not _move_refund(
        session,
        refund_no,
        refund_rules.SUCCEED_FROM,
        RefundState.SUCCEEDED,
        now,
        provider_refund_id=provider_refund_id or refund.provider_refund_id,
        succeeded_at=succeeded_at,
        next_check_at=None,
    ):
        return False
    _move(session, refund.order_no, "refunded", now)
    add_event(
        session,
        SERVICE,
        refund.candidate_no,
        events.PaymentRefunded(
            candidate_no=refund.candidate_no,
            order_no=refund.order_no,
            refund_no=refund_no,
            amount_fen=refund.amount_fen,
            at=_ts(succeeded_at),
            duplicate=refund.duplicate,
            reason=refund.reason,
            provider=refund.provider,
        ),
    )
    log.info("refund settled", extra={"refund_no": refund_no, "order_no": refund.order_no})
    return True


def fail_refund(session: Session, refund_no: str, why: str, now: datetime) -> bool:
    """The provider refused or failed the refund: the money is still ours; staff must act."""
    refund = load_refund(session, refund_no)
    if refund is None or not _move_refund(
        session, refund_no, refund_rules.FAIL_FROM, RefundState.FAILED, now, last_error=why[:200], next_check_at=None
    ):
        return False
    _move(session, refund.order_no, "refund_failed", now)
    audit.alert_in(
        session,
        "refund_failed",
        f"refund {refund_no} of {refund.amount_fen} fen failed: {why}",
        provider=refund.provider,
        order_no=refund.order_no,
    )
    return True


def order_state(order: OrderRow) -> OrderState:
    return OrderState(order.state)
