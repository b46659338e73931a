"""Alerts and the staff audit trail of the payment service.

An alert is a money-safety event (a forged or replayed notification, a wrong amount, a failed
refund, a reconciliation difference...): a row in `audit` with level 'alert' and a log line at
ERROR, which the platform's log alerting picks up. Alerts are written in their own transaction,
so that they survive the rollback of the work that raised them.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from services.payment.adapters.tables import AuditRow
from zsb.common.clock import utcnow
from zsb.common.db import Database

log = logging.getLogger("payment.alerts")

ALERT, AUDIT = "alert", "audit"


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
            session.add(_row(ALERT, kind, detail, provider, order_no, actor, remote_addr))
    except Exception:  # the database is away: the log line above is the record
        log.exception("could not store payment alert %s", kind)


def alert_in(session: Session, kind: str, detail: str, *, provider: str = "", order_no: str = "") -> None:
    """An alert that belongs to the caller's transaction (it is true only if that work commits)."""
    log.error(
        "payment alert: %s", kind, extra={"alert": kind, "provider": provider, "order_no": order_no, "detail": detail}
    )
    session.add(_row(ALERT, kind, detail, provider, order_no, "", ""))


def record(session: Session, kind: str, actor: str, detail: str, *, provider: str = "", order_no: str = "") -> None:
    """A staff decision, in the caller's transaction."""
    session.add(_row(AUDIT, kind, detail, provider, order_no, actor, ""))
