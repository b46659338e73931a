"""Alerts and the staff audit trail of the payment service.

An alert is a money-safety event (a forged or replayed notification, a wrong amount, a failed
refund, a reconciliation difference...): a row in `audit` with level 'alert' and a log line at
ERROR, which the platform's log alerting picks up. Alerts are written in their own transaction,
so that they survive the rollback of the work that raised them.

Every row (alert or staff decision) is also published as PaymentStaffAction in its transaction,
for the platform's audit log.
"""

from __future__ import annotations

import logging

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session

from services.payment.adapters.tables import AuditRow, OrderRow
from zsb.common.clock import utcnow
from zsb.common.db import Database
from zsb.common.errors import Unauthenticated
from zsb.common.outbox import add_event
from zsb.common.principal import current_principal
from zsb.events.v1 import payment_events_pb2 as ev

log = logging.getLogger("payment.alerts")

ALERT, AUDIT = "alert", "audit"
SERVICE = "payment"


def _row(level: str, kind: str, detail: str, provider: str, order_no: str, actor: str, remote_addr: str) -> AuditRow:
    return AuditRow(
        at=utcnow(),
        level=level,
        kind=kind[:40],
        provider=provider[:10],
        order_no=order_no[:64],
        actor=actor[:40],
        remote_addr=remote_addr[:45],
        detail=detail[:500],
    )


def _add(session: Session, row: AuditRow) -> None:
    """Keep the row and publish it as PaymentStaffAction, in the caller's transaction."""
    session.add(row)
    order = session.get(OrderRow, row.order_no[:32]) if row.order_no else None
    candidate_no = order.candidate_no if order is not None else ""
    at = Timestamp()
    at.FromDatetime(row.at)
    add_event(
        session,
        SERVICE,
        candidate_no or row.order_no or SERVICE,
        ev.PaymentStaffAction(
            action=row.kind,
            subject=row.order_no,
            actor=row.actor,
            actor_role=_role_of(row.actor),
            detail=row.detail,
            at=at,
            level=row.level,
            provider=row.provider,
            order_no=row.order_no,
            candidate_no=candidate_no,
            remote_addr=row.remote_addr,
        ),
    )


def _role_of(actor: str) -> str:
    """The role of the staff member who made a decision ('' for the service's own alerts)."""
    if not actor:
        return ""
    try:
        p = current_principal()
    except Unauthenticated:
        return ""
    return p.role.value if p.subject == actor else ""


def alert(
    db: Database,
    kind: str,
    detail: str,
    *,
    provider: str = "",
    order_no: str = "",
    remote_addr: str = "",
    actor: str = "",
) -> None:
    """Record and log an alert at once, in a transaction of its own. Never raises: an alert that
    cannot be stored is still logged."""
    log.error(
        "payment alert: %s",
        kind,
        extra={"alert": kind, "provider": provider, "order_no": order_no, "remote_addr": remote_addr, "detail": detail},
    )
    try:
        with db.unit_of_work() as session:
            _add(session, _row(ALERT, kind, detail, provider, order_no, actor, remote_addr))
    except Exception:  # the database is away: the log line above is the record
        log.exception("could not store payment alert %s", kind)


def alert_in(session: Session, kind: str, detail: str, *, provider: str = "", order_no: str = "") -> None:
    """An alert that belongs to the caller's transaction (it is true only if that work commits)."""
    log.error(
        "payment alert: %s", kind, extra={"alert": kind, "provider": provider, "order_no": order_no, "detail": detail}
    )
    _add(session, _row(ALERT, kind, detail, provider, order_no, "", ""))


def record(session: Session, kind: str, actor: str, detail: str, *, provider: str = "", order_no: str = "") -> None:
    """A staff decision, in the caller's transaction."""
    _add(session, _row(AUDIT, kind, detail, provider, order_no, actor, ""))
