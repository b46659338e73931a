"""The security audit: a row per event, published as SecurityEventRecorded in the same transaction."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from services.auth.adapters.tables import SecurityEventRow
from zsb.common.clock import utcnow
from zsb.common.outbox import add_event
from zsb.events.v1 import auth_events_pb2

SERVICE = "auth"


def record(session: Session, kind: str, subject: str, *, actor: str = "", ip: str = "", detail: str = "") -> None:
    """Audit one security event; `detail` must never hold a secret or an unmasked personal number."""
    now = utcnow()
    session.add(
        SecurityEventRow(at=now, kind=kind, subject=subject, actor=actor or subject, ip=ip[:45], detail=detail[:500])
    )
    at = Timestamp()
    at.FromDatetime(now)
    add_event(
        session,
        SERVICE,
        subject,
        auth_events_pb2.SecurityEventRecorded(
            kind=kind, subject=subject, actor=actor or subject, ip=ip[:45], detail=detail[:500], at=at
        ),
    )
