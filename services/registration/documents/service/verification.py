"""The public check of a ticket's QR code (no login): genuine, and still the current one?

- `valid`: we signed it, its seat belongs to the published arrangement, the candidate has not
  abandoned the registration;
- `superseded`: we signed it, but the seat is from an arrangement that was replaced;
- `revoked`: the candidate abandoned the registration;
- `invalid`: anything else (malformed, altered, another key, never published).

The answer names the candidate only masked (张*明): the page is public and the QR code may be
photographed by anyone who sees the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from services.registration.adapters import Candidate
from services.registration.documents.service.common import PUBLISHED, SUPERSEDED, DocumentsDeps, settings_row
from services.registration.documents.tables import ArrangementRow, ExamSiteRow, SeatAssignmentRow
from services.registration.service.common import load_reference
from zsb.common.pii import mask_name

MESSAGES = {
    "valid": "准考证有效：该准考证由省招生考试管理中心签发，且为当前有效版本。",
    "superseded": "准考证已作废：考场已重新编排，请考生打印最新的准考证。",
    "revoked": "准考证无效：该考生已放弃报名。",
    "invalid": "验证失败：二维码无效或已被篡改，不是本系统签发的准考证。",
}


@dataclass
class Verification:
    status: str
    message: str
    exam_title: str = ""
    candidate_no: str = ""
    masked_name: str = ""
    major_category: str = ""
    site_name: str = ""
    room_no: str = ""
    seat_no: int = 0
    published_at: object = None


class VerificationService:
    def __init__(self, deps: DocumentsDeps) -> None:
        self.deps = deps

    def verify(self, token: str) -> Verification:
        serial = self.deps.tokens.verify((token or "")[:100])
        if serial is None:
            return Verification("invalid", MESSAGES["invalid"])
        with self.deps.ctx.db.unit_of_work() as session:
            found = session.execute(
                select(SeatAssignmentRow, ArrangementRow)
                .join(ArrangementRow, ArrangementRow.id == SeatAssignmentRow.arrangement_id)
                .where(
                    SeatAssignmentRow.ticket_serial == serial,
                    ArrangementRow.status.in_((PUBLISHED, SUPERSEDED)),
                )
                .order_by(ArrangementRow.id.desc())
            ).all()
            if not found:
                return Verification("invalid", MESSAGES["invalid"])
            # A seat kept by a re-arrangement keeps its serial: the newest arrangement decides.
            seat, arrangement = found[0]
            candidate = session.get(Candidate, seat.candidate_no)
            name = mask_name(candidate.name) if candidate else ""
            title = settings_row(session).exam_title
            if arrangement.status != PUBLISHED:
                return Verification("superseded", MESSAGES["superseded"], title, seat.candidate_no, name)
            if candidate is None or candidate.abandoned_at is not None:
                return Verification("revoked", MESSAGES["revoked"], title, seat.candidate_no, name)
            site = session.get(ExamSiteRow, seat.site_code)
            major = load_reference(session).data.major_category(seat.major_category)
            return Verification(
                "valid",
                MESSAGES["valid"],
                title,
                seat.candidate_no,
                name,
                major.label if major else seat.major_category,
                site.name if site else seat.site_code,
                seat.room_no,
                seat.seat_no,
                arrangement.published_at,
            )
