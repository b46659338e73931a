"""Recorded attempts (failed logins, SMS sends) and the blocks they cause."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.auth.adapters.tables import Attempt
from services.auth.domain.throttle import Limit, account_blocked_until, blocked_until

# Nothing older than this matters to any limit.
_KEEP = timedelta(hours=3)


def attempts(session: Session, kind: str, key: str, now: datetime) -> list[datetime]:
    rows = session.scalars(select(Attempt.at).where(Attempt.kind == kind, Attempt.key == key, Attempt.at > now - _KEEP))
    return list(rows)


def add_attempt(session: Session, kind: str, key: str, now: datetime) -> None:
    session.add(Attempt(kind=kind, key=key, at=now))
    # Trim this key's history as we go, so the table stays small without a separate job.
    session.execute(delete(Attempt).where(Attempt.kind == kind, Attempt.key == key, Attempt.at < now - _KEEP))


def clear_attempts(session: Session, kind: str, key: str) -> None:
    session.execute(delete(Attempt).where(Attempt.kind == kind, Attempt.key == key))


def until(session: Session, kind: str, key: str, limit: Limit, now: datetime) -> datetime | None:
    return blocked_until(attempts(session, kind, key, now), limit, now)


def account_until(session: Session, key: str, now: datetime) -> datetime | None:
    return account_blocked_until(attempts(session, "login_failed", key, now), now)
