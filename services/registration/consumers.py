"""Kafka event handlers of the registration service; each runs inside the consumer's transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.registration.service import open_registration
from zsb.common.consumer import Subscription
from zsb.common.events import Envelope, topic_for
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import auth_events_pb2


def subscriptions(_ctx: ServiceContext) -> list[Subscription]:
    sub = Subscription(group="registration", topics=[topic_for("auth")])

    @sub.on(auth_events_pb2.CandidateAccountCreated)
    def on_account_created(session: Session, event: auth_events_pb2.CandidateAccountCreated, _env: Envelope) -> None:
        open_registration(session, event.candidate_no, event.name, event.point_code)

    return [sub]
