"""Lockout and rate-limit arithmetic over recorded attempt times (pure functions).

Accounts: 5 failures within 15 minutes lock the account for 15 minutes; whatever the
lockouts, never more than 100 failed attempts per account in any hour. Addresses: 30
failures within 15 minutes throttle the address for 15 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Limit:
    attempts: int
    window: timedelta
    lock: timedelta


ACCOUNT_LIMIT = Limit(attempts=5, window=timedelta(minutes=15), lock=timedelta(minutes=15))
ACCOUNT_HOURLY_CAP = Limit(attempts=100, window=timedelta(hours=1), lock=timedelta(hours=1))
IP_LIMIT = Limit(attempts=30, window=timedelta(minutes=15), lock=timedelta(minutes=15))

# SMS codes: per phone at most one a minute and five an hour; per address twenty an hour.
SMS_PHONE_MINUTE = Limit(attempts=1, window=timedelta(minutes=1), lock=timedelta(minutes=1))
SMS_PHONE_HOUR = Limit(attempts=5, window=timedelta(hours=1), lock=timedelta(hours=1))
SMS_IP_HOUR = Limit(attempts=20, window=timedelta(hours=1), lock=timedelta(hours=1))
SMS_CODE_MAX_TRIES = 5


def blocked_until(attempts: list[datetime], limit: Limit, now: datetime) -> datetime | None:
    """When the subject may try again, or None if it may now.

    The block starts at the attempt that reached the limit inside a window and lasts `lock`
    from there; attempts are the recorded failures (or sends), in any order.
    """
    times = sorted(t for t in attempts if t > now - limit.window - limit.lock)
    for i in range(limit.attempts - 1, len(times)):
        first, reaching = times[i - limit.attempts + 1], times[i]
        if reaching - first <= limit.window:
            until = reaching + limit.lock
            if until > now:
                return until
    return None


def account_blocked_until(failures: list[datetime], now: datetime) -> datetime | None:
    """The later of the short lockout and the hourly cap."""
    ends = [u for u in (blocked_until(failures, ACCOUNT_LIMIT, now), hourly_cap_until(failures, now)) if u]
    return max(ends) if ends else None


def hourly_cap_until(failures: list[datetime], now: datetime) -> datetime | None:
    """With 100 failures in the last hour, no attempt until the oldest of them is an hour old."""
    recent = sorted(t for t in failures if t > now - ACCOUNT_HOURLY_CAP.window)
    if len(recent) >= ACCOUNT_HOURLY_CAP.attempts:
        return recent[-ACCOUNT_HOURLY_CAP.attempts] + ACCOUNT_HOURLY_CAP.window
    return None
