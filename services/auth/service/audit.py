"""The security audit: a row per event, published as SecurityEventRecorded in the same transaction,
and kept in the platform's audit log beside the other services' staff actions."""

from __future__ import annotations

from dataclasses import asdict

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from services.auth.adapters.tables import AuditLogRow, SecurityEventRow
from services.auth.domain.audit import Entry
from zsb.common.clock import utcnow
from zsb.common.errors import Unauthenticated
from zsb.common.outbox import add_event
from zsb.common.principal import current_principal
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
    ce_id = add_event(
        session,
        SERVICE,
        subject,
        auth_events_pb2.SecurityEventRecorded(
            kind=kind, subject=subject, actor=actor or subject, ip=ip[:45], detail=detail[:500], at=at
        ),
    )
    entry = Entry.of(ce_id, now, SERVICE, kind, subject, actor or subject, _role_of(actor or subject), detail, ip=ip)
    session.add(AuditLogRow(**asdict(entry)))


def _role_of(actor: str) -> str:
    """The actor's role when the caller is that actor (logins and resets have no caller)."""
    try:
        p = current_principal()
    except Unauthenticated:
        return ""
    return p.role.value if p.subject == actor else ""
