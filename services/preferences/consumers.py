"""Kafka event handlers of the preferences service: the eligibility projection.

One subscription reads the three topics, so one thread updates the projection per replica.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.preferences.service import eligibility
from zsb.common.consumer import Subscription
from zsb.common.events import Envelope, topic_for
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import identity_events_pb2 as identity_ev
from zsb.events.v1 import payment_events_pb2 as payment_ev
from zsb.events.v1 import registration_events_pb2 as registration_ev

GROUP = "preferences"


def subscriptions(_ctx: ServiceContext) -> list[Subscription]:
    sub = Subscription(group=GROUP, topics=[topic_for("registration"), topic_for("identity"), topic_for("payment")])

    @sub.on(registration_ev.RegistrationConfirmed)
    def confirmed(session: Session, e: registration_ev.RegistrationConfirmed, _env: Envelope) -> None:
        eligibility.on_confirmed(session, e)

    @sub.on(registration_ev.RegistrationAbandoned)
    def abandoned(session: Session, e: registration_ev.RegistrationAbandoned, _env: Envelope) -> None:
        eligibility.on_abandoned(session, e)

    @sub.on(registration_ev.QualificationApproved)
    def approved(session: Session, e: registration_ev.QualificationApproved, _env: Envelope) -> None:
        eligibility.on_qualification(session, e.candidate_no, True, e.at)

    @sub.on(registration_ev.QualificationRejected)
    def rejected(session: Session, e: registration_ev.QualificationRejected, _env: Envelope) -> None:
        eligibility.on_qualification(session, e.candidate_no, False, e.at)

    @sub.on(identity_ev.IdentityVerified)
    def verified(session: Session, e: identity_ev.IdentityVerified, _env: Envelope) -> None:
        eligibility.on_identity(session, e.candidate_no, True, e.at)

    @sub.on(identity_ev.IdentityManuallyApproved)
    def manually_approved(session: Session, e: identity_ev.IdentityManuallyApproved, _env: Envelope) -> None:
        eligibility.on_identity(session, e.candidate_no, True, e.at)

    @sub.on(identity_ev.IdentityVerificationFailed)
    def failed(session: Session, e: identity_ev.IdentityVerificationFailed, _env: Envelope) -> None:
        eligibility.on_identity(session, e.candidate_no, False, e.at)

    @sub.on(identity_ev.IdentityManuallyRejected)
    def manually_rejected(session: Session, e: identity_ev.IdentityManuallyRejected, _env: Envelope) -> None:
        eligibility.on_identity(session, e.candidate_no, False, e.at)

    @sub.on(payment_ev.PaymentSucceeded)
    def paid(session: Session, e: payment_ev.PaymentSucceeded, _env: Envelope) -> None:
        eligibility.on_paid(session, e)

    @sub.on(payment_ev.PaymentRefunded)
    def refunded(session: Session, e: payment_ev.PaymentRefunded, _env: Envelope) -> None:
        eligibility.on_refunded(session, e)

    return [sub]
