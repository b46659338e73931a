"""Time: naive UTC in the databases, Beijing time (UTC+8) for people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "CST")


def utcnow() -> datetime:
    """Naive UTC, the form both SQLite and MySQL DATETIME columns store."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_beijing(naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=UTC).astimezone(BEIJING)


def beijing_text(naive_utc: datetime) -> str:
    """'2026-03-01 16:05' in Beijing time, as messages to candidates show it."""
    return to_beijing(naive_utc).strftime("%Y-%m-%d %H:%M")


def unix(naive_utc: datetime) -> int:
    return int(naive_utc.replace(tzinfo=UTC).timestamp())
