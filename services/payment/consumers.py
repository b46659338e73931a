"""Kafka handlers of the payment service: who may pay (identity, registration), 放弃报名, the calendar."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.payment.adapters.tables import calendar_phases
from services.payment.service import projection
from services.payment.service.app import app_for
from zsb.common.calendar import apply_phase_changed
from zsb.common.clock import utcnow
from zsb.common.consumer import Subscription
from zsb.common.events import Envelope, topic_for
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import identity_events_pb2 as identity
from zsb.events.v1 import registration_events_pb2 as registration

GROUP = "payment"


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    config = app_for(ctx).deps.config
    sub = Subscription(group=GROUP, topics=[topic_for("identity"), topic_for("registration")])

    @sub.on(identity.IdentityVerified)
    def on_verified(session: Session, event: identity.IdentityVerified, _env: Envelope) -> None:
        projection.identity_verified(session, event.candidate_no, projection.event_time(event.at))

    @sub.on(identity.IdentityManuallyApproved)
    def on_approved(session: Session, event: identity.IdentityManuallyApproved, _env: Envelope) -> None:
        projection.identity_verified(session, event.candidate_no, projection.event_time(event.at))

    @sub.on(registration.RegistrationConfirmed)
    def on_confirmed(session: Session, event: registration.RegistrationConfirmed, _env: Envelope) -> None:
        projection.registration_confirmed(
            session,
            event.candidate_no,
            name=event.name,
            category_code=event.candidate_category,
            city_code=event.city_code,
            point_code=event.point_code,
            at=projection.event_time(event.at),
        )

    @sub.on(registration.RegistrationAbandoned)
    def on_abandoned(session: Session, event: registration.RegistrationAbandoned, _env: Envelope) -> None:
        projection.registration_abandoned(
            session,
            event.candidate_no,
            at=projection.event_time(event.at),
            policy=config.refund_policy(),
            close_grace_seconds=config.close_grace_seconds,
            now=utcnow().replace(microsecond=0),
        )

    @sub.on(registration.CalendarPhaseChanged)
    def on_calendar(session: Session, event: registration.CalendarPhaseChanged, _env: Envelope) -> None:
        apply_phase_changed(session, calendar_phases, event)

    return [sub]
