"""The fee paid, for the 报名信息登记表: the payment service's PaymentSucceeded carries the amount.

A subscription of its own (consumer group `registration-documents`), so that it reads the payment
topic from the beginning when first deployed and fills in the amounts of fees paid before it.
`services.registration.consumers.subscriptions` adds it to the service's subscriptions.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from services.registration.documents.tables import PaymentReceiptRow
from zsb.common.consumer import Subscription
from zsb.common.events import Envelope, topic_for
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import payment_events_pb2

GROUP = "registration-documents"


def _at(ts: Timestamp):
    return ts.ToDatetime() if ts.seconds or ts.nanos else None


def record_payment(session: Session, event: payment_events_pb2.PaymentSucceeded) -> None:
    """Keep the registration's payment; it is announced once, and a repeat changes nothing."""
    row = session.get(PaymentReceiptRow, event.candidate_no)
    if row is not None:
        return
    session.add(
        PaymentReceiptRow(
            candidate_no=event.candidate_no,
            amount_fen=event.amount_fen,
            order_no=event.order_no[:64],
            provider=event.provider[:20],
            paid_at=_at(event.paid_at),
        )
    )


def subscriptions(_ctx: ServiceContext) -> list[Subscription]:
    sub = Subscription(group=GROUP, topics=[topic_for("payment")])

    @sub.on(payment_events_pb2.PaymentSucceeded)
    def on_payment_succeeded(session: Session, event: payment_events_pb2.PaymentSucceeded, _env: Envelope) -> None:
        record_payment(session, event)

    return [sub]
