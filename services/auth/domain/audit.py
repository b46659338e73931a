"""Rules of the platform's audit log: what a collected entry keeps, and what a search may ask.

Staff actions arrive from every service as events; before they are kept, any ID number or
mobile number written into free text (a reviewer's reason, a stated purpose) is masked, so
the audit never becomes a second store of personal numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from zsb.common.errors import InvalidArgument
from zsb.common.pii import mask_id_number, mask_phone

# The services whose actions the log holds (auth's own security events included).
SERVICES = ("auth", "registration", "identity", "payment", "preferences", "results")
MAX_PAGE = 200
DEFAULT_PAGE = 50
LATEST = 253402300800  # 10000-01-01: later times are not times

# Column sizes of `audit_log`.
ACTION_MAX, SUBJECT_MAX, ACTOR_MAX, ROLE_MAX, DETAIL_MAX, IP_MAX, LEVEL_MAX = 60, 64, 40, 20, 1000, 45, 10

# 18-character resident ID numbers and 11-digit mainland mobile numbers standing alone (not part
# of a longer number such as a 14-digit 考生号 or an order number).
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9])1[3-9]\d{9}(?![0-9])")
_CANDIDATE_NO = re.compile(r"^[0-9]{14}$")


def mask_numbers(text: str) -> str:
    """The text with every ID number and mobile number in it masked (1401**********1238, 138****5678)."""
    masked = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text or "")
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), masked)


def candidate_of(subject: str) -> str:
    """The 考生号 a subject names, or '' (subjects are also point codes, run ids, order numbers...)."""
    value = (subject or "").strip()
    return value if _CANDIDATE_NO.match(value) else ""


@dataclass(frozen=True)
class Entry:
    """One audit entry as it is kept: cut to the column sizes, personal numbers masked."""

    event_id: str
    at: datetime
    service: str
    action: str
    subject: str
    candidate_no: str
    actor: str
    actor_role: str
    detail: str
    ip: str = ""
    level: str = ""

    @classmethod
    def of(
        cls,
        event_id: str,
        at: datetime,
        service: str,
        action: str,
        subject: str,
        actor: str,
        actor_role: str,
        detail: str,
        *,
        candidate_no: str = "",
        ip: str = "",
        level: str = "",
    ) -> Entry:
        subject = mask_numbers(subject.strip())[:SUBJECT_MAX]
        return cls(
            event_id=event_id[:64],
            at=at,
            service=service,
            action=(action.strip() or "unknown")[:ACTION_MAX],
            subject=subject,
            candidate_no=candidate_of(candidate_no) or candidate_of(subject),
            actor=(mask_numbers(actor.strip()) or "system")[:ACTOR_MAX],
            actor_role=actor_role.strip()[:ROLE_MAX],
            detail=mask_numbers(detail)[:DETAIL_MAX],
            ip=ip.strip()[:IP_MAX],
            level=level.strip()[:LEVEL_MAX],
        )


@dataclass(frozen=True)
class AuditQuery:
    """A checked search of the audit log."""

    actor: str = ""
    subject: str = ""
    service: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = DEFAULT_PAGE
    offset: int = 0

    @classmethod
    def parse(
        cls,
        actor: str,
        subject: str,
        service: str,
        action: str,
        since: int,
        until: int,
        limit: int,
        offset: int,
    ) -> AuditQuery:
        """From a request: `since`/`until` in unix seconds (0: no bound), `until` exclusive."""
        service = (service or "").strip()
        if service and service not in SERVICES:
            raise InvalidArgument("业务系统不正确", reason="BAD_SERVICE", field="service")
        start, end = _moment(since, "since"), _moment(until, "until")
        if start is not None and end is not None and start >= end:
            raise InvalidArgument("结束时间须晚于开始时间", reason="BAD_RANGE", field="until")
        if offset < 0:
            raise InvalidArgument("页码不正确", reason="BAD_OFFSET", field="offset")
        return cls(
            actor=(actor or "").strip()[:ACTOR_MAX],
            subject=(subject or "").strip()[:SUBJECT_MAX],
            service=service,
            action=(action or "").strip()[:ACTION_MAX],
            since=start,
            until=end,
            limit=min(max(limit or DEFAULT_PAGE, 1), MAX_PAGE),
            offset=offset,
        )


def _moment(seconds: int, field: str) -> datetime | None:
    """Unix seconds as naive UTC (how the log stores time); 0 is no bound."""
    if not seconds:
        return None
    if not 0 < seconds < LATEST:
        raise InvalidArgument("时间不正确", reason="BAD_TIME", field=field)
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
