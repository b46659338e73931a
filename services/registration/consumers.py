"""Kafka event handlers of the registration service; each runs inside the consumer's transaction.

- auth: `CandidateAccountCreated` opens the candidate's registration;
- identity: verified / failed / manually approved / manually rejected advance 身份认证;
- payment: succeeded / failed advance 网上支付; refunded is noted (after 放弃报名).
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from services.registration.documents.consumers import subscriptions as documents_subscriptions
from services.registration.service.facts import open_registration, record, record_refund
from zsb.common.clock import utcnow
from zsb.common.consumer import Subscription
from zsb.common.events import Envelope, topic_for
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import auth_events_pb2, identity_events_pb2, payment_events_pb2

GROUP = "registration"
AUTOMATIC_FAILURE_NOTE = "人脸比对未通过，等待人工审核"


def _at(ts: Timestamp):
    """The fact's own time; the handling time when the producer left it unset."""
    return ts.ToDatetime() if ts.seconds or ts.nanos else utcnow()


def subscriptions(_ctx: ServiceContext) -> list[Subscription]:
    sub = Subscription(group=GROUP, topics=[topic_for("auth"), topic_for("identity"), topic_for("payment")])

    @sub.on(auth_events_pb2.CandidateAccountCreated)
    def on_account_created(session: Session, event: auth_events_pb2.CandidateAccountCreated, _env: Envelope) -> None:
        open_registration(session, event.candidate_no, event.name, event.point_code)

    @sub.on(identity_events_pb2.IdentityVerified)
    def on_identity_verified(session: Session, event: identity_events_pb2.IdentityVerified, _env: Envelope) -> None:
        record(session, event.candidate_no, lambda reg: reg.record_identity_verified(_at(event.at)))

    @sub.on(identity_events_pb2.IdentityVerificationFailed)
    def on_identity_failed(
        session: Session, event: identity_events_pb2.IdentityVerificationFailed, _env: Envelope
    ) -> None:
        record(
            session, event.candidate_no, lambda reg: reg.record_identity_failed(_at(event.at), AUTOMATIC_FAILURE_NOTE)
        )

    @sub.on(identity_events_pb2.IdentityManuallyApproved)
    def on_identity_approved(
        session: Session, event: identity_events_pb2.IdentityManuallyApproved, _env: Envelope
    ) -> None:
        record(session, event.candidate_no, lambda reg: reg.record_identity_verified(_at(event.at)))

    @sub.on(identity_events_pb2.IdentityManuallyRejected)
    def on_identity_rejected(
        session: Session, event: identity_events_pb2.IdentityManuallyRejected, _env: Envelope
    ) -> None:
        reason = f"身份认证未通过：{event.reason}" if event.reason else "身份认证未通过"
        record(session, event.candidate_no, lambda reg: reg.record_identity_failed(_at(event.at), reason[:200]))

    @sub.on(payment_events_pb2.PaymentSucceeded)
    def on_payment_succeeded(session: Session, event: payment_events_pb2.PaymentSucceeded, _env: Envelope) -> None:
        record(session, event.candidate_no, lambda reg: reg.record_payment_succeeded(_at(event.paid_at)))

    @sub.on(payment_events_pb2.PaymentFailed)
    def on_payment_failed(session: Session, event: payment_events_pb2.PaymentFailed, _env: Envelope) -> None:
        reason = f"支付未成功：{event.reason}" if event.reason else "支付未成功"
        record(session, event.candidate_no, lambda reg: reg.record_payment_failed(_at(event.at), reason[:200]))

    @sub.on(payment_events_pb2.PaymentRefunded)
    def on_payment_refunded(session: Session, event: payment_events_pb2.PaymentRefunded, _env: Envelope) -> None:
        # A duplicate payment's refund leaves the registration's own payment standing.
        if not event.duplicate:
            record_refund(session, event.candidate_no, _at(event.at))

    return [sub, *documents_subscriptions(_ctx)]
