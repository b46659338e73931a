"""Kafka subscriptions of the auth service: every service's staff actions into the audit log."""

from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from services.auth.service.audit_log import STAFF_ACTIONS, collect
from zsb.common.consumer import Handler, Subscription
from zsb.common.events import Envelope, topic_for
from zsb.common.runtime import ServiceContext


def _collector(service: str) -> Handler:
    def handle(session: Session, message: Message, env: Envelope) -> None:
        collect(session, service, message, env)

    return handle


def subscriptions(ctx: ServiceContext) -> list[Subscription]:
    sub = Subscription(group="auth", topics=[topic_for(service) for service in STAFF_ACTIONS])
    for service, message_cls in STAFF_ACTIONS.items():
        sub.on(message_cls)(_collector(service))
    return [sub]
