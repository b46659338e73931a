"""The platform's audit log: collecting every service's staff actions, and the province's search.

Each service keeps its own audit table and publishes each row as a `<Service>StaffAction`
event in the same transaction; the consumer here keeps them in `audit_log` next to this
service's security events, so that one search answers "who did what to which record when".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

from google.protobuf.message import Message
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.auth.adapters.tables import AuditLogRow
from services.auth.domain.audit import AuditQuery, Entry
from zsb.common.clock import utcnow
from zsb.common.events import Envelope
from zsb.common.principal import Role, require_staff
from zsb.common.runtime import ServiceContext
from zsb.events.v1 import (
    identity_events_pb2,
    payment_events_pb2,
    preferences_events_pb2,
    registration_events_pb2,
    results_events_pb2,
)

# The staff-action event of each service whose actions the log collects.
STAFF_ACTIONS: dict[str, type[Message]] = {
    "registration": registration_events_pb2.RegistrationStaffAction,
    "identity": identity_events_pb2.IdentityStaffAction,
    "payment": payment_events_pb2.PaymentStaffAction,
    "preferences": preferences_events_pb2.PreferencesStaffAction,
    "results": results_events_pb2.ResultsStaffAction,
}


def _when(message: Message, env: Envelope) -> datetime:
    """When the action happened: the event's `at`, else its CloudEvents time, else now."""
    if message.HasField("at"):
        return message.at.ToDatetime()
    try:
        return datetime.fromisoformat(env.ce_time.removesuffix("Z")).replace(tzinfo=None)
    except ValueError:
        return utcnow()


def collect(session: Session, service: str, message: Message, env: Envelope) -> None:
    """Keep one staff action (a consumer's use case, inside its transaction)."""
    if session.scalar(select(AuditLogRow.id).where(AuditLogRow.event_id == env.ce_id[:64])) is not None:
        return  # already kept (the event's id is unique in the log)
    extra: dict[str, str] = {}
    if isinstance(message, payment_events_pb2.PaymentStaffAction):
        extra = {"candidate_no": message.candidate_no, "ip": message.remote_addr, "level": message.level}
    entry = Entry.of(
        env.ce_id,
        _when(message, env),
        service,
        message.action,
        message.subject,
        message.actor,
        message.actor_role,
        message.detail,
        **extra,
    )
    session.add(AuditLogRow(**asdict(entry)))


class AuditLogService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def search(
        self, parse: Callable[[], AuditQuery], with_actions: bool = False
    ) -> tuple[list[AuditLogRow], int, list[tuple[str, str]]]:
        """A page of entries (newest first), how many match, and the action codes on record.

        Province staff only; the request is read (`parse`) once the caller may search at all.
        """
        require_staff(Role.PROVINCE)
        q = parse()
        query = select(AuditLogRow)
        if q.actor:
            query = query.where(AuditLogRow.actor == q.actor)
        if q.subject:
            query = query.where(or_(AuditLogRow.subject == q.subject, AuditLogRow.candidate_no == q.subject))
        if q.service:
            query = query.where(AuditLogRow.service == q.service)
        if q.action:
            query = query.where(AuditLogRow.action == q.action)
        if q.since is not None:
            query = query.where(AuditLogRow.at >= q.since)
        if q.until is not None:
            query = query.where(AuditLogRow.at < q.until)
        with self.ctx.db.unit_of_work() as session:
            total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
            rows = list(
                session.scalars(
                    query.order_by(AuditLogRow.at.desc(), AuditLogRow.id.desc()).limit(q.limit).offset(q.offset)
                )
            )
            actions: list[tuple[str, str]] = []
            if with_actions:
                actions = [
                    (s, a)
                    for s, a in session.execute(
                        select(AuditLogRow.service, AuditLogRow.action)
                        .distinct()
                        .order_by(AuditLogRow.service, AuditLogRow.action)
                    ).all()
                ]
        return rows, total, actions
