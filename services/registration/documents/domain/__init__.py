"""Rules of 表格下载 and the exam arrangement (pure, no I/O).

`forms` (the four documents, the pledge before the ticket), `plan` (sites, rooms, timetable,
settings), `arrangement` (seating), `texts` (what the documents print).
"""

from __future__ import annotations

from services.registration.documents.domain.arrangement import (
    CapacityShortage,
    Examinee,
    Room,
    Seat,
    Shortage,
    arrange,
)
from services.registration.documents.domain.forms import FormKind, PledgeReading, check_bonus_form, parse_form_kind
from services.registration.documents.domain.plan import (
    ExamSettings,
    RoomSpec,
    Session,
    SiteSpec,
    check_no_overlap,
    parse_session,
    parse_settings,
    parse_site,
)

__all__ = [
    "CapacityShortage",
    "ExamSettings",
    "Examinee",
    "FormKind",
    "PledgeReading",
    "Room",
    "RoomSpec",
    "Seat",
    "Session",
    "Shortage",
    "SiteSpec",
    "arrange",
    "check_bonus_form",
    "check_no_overlap",
    "parse_form_kind",
    "parse_session",
    "parse_settings",
    "parse_site",
]
