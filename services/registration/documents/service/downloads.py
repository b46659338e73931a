"""表格下载 (manual 2.8.7): the candidate's overview, the pledge before the ticket, the PDFs.

A document is generated from the data as it is at the moment of the download. Candidates get
their own documents once the qualification review passed; staff get those of candidates in
their scope (with ID and phone numbers masked, as everywhere on the staff side). The ticket
needs a published arrangement with a seat; for the candidate also the calendar's 准考证打印 phase
and the pledge read for 10 seconds by the server's clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.registration.adapters import Candidate, CandidateRepository, calendar_phases
from services.registration.documents.domain import (
    FormKind,
    PledgeReading,
    check_bonus_form,
    parse_form_kind,
)
from services.registration.documents.render import View
from services.registration.documents.render.models import (
    BonusFormView,
    MedicalFormView,
    RegistrationFormView,
    SessionLine,
    TicketView,
)
from services.registration.documents.service.common import (
    PUBLISHED,
    DocumentsDeps,
    arrangement_with_status,
    settings_row,
)
from services.registration.documents.service.views import person_view, progress_view, session_lines
from services.registration.documents.tables import (
    ExamRoomRow,
    ExamSessionRow,
    ExamSiteRow,
    PaymentReceiptRow,
    SeatAssignmentRow,
    TicketPledgeRow,
)
from services.registration.domain import ReferenceData, Registration, Step
from services.registration.service.calendar import require_phase
from services.registration.service.common import Store, check_candidate_no, load_reference
from zsb.common.calendar import Phase, load_calendar
from zsb.common.errors import DomainError, FailedPrecondition, NotFound
from zsb.common.pii import mask_id_number
from zsb.common.principal import current_principal, require_candidate, require_scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeatInfo:
    assignment: SeatAssignmentRow
    site: ExamSiteRow
    room: ExamRoomRow | None
    major_label: str


@dataclass
class Availability:
    kind: FormKind
    available: bool
    reason: str = ""
    code: str = ""


@dataclass
class Overview:
    exam_title: str
    forms_open: bool
    closed_reason: str
    forms: list[Availability]
    published: bool
    seat: SeatInfo | None
    ticket_open_at: datetime | None  # the calendar's 准考证打印 window
    ticket_close_at: datetime | None
    ticket_text: str  # its line: the phase and whether the arrangement is published
    pledge: PledgeReading
    now: datetime


@dataclass
class FormFile:
    filename: str
    data: bytes


def _forms_refusal(reg: Registration) -> DomainError | None:
    """Why the 表格下载 step is not open (abandoned, or a step before it not done), or None."""
    if reg.abandoned:
        return FailedPrecondition("您已放弃报名，不能下载表格", reason="ABANDONED")
    if reg.is_open(Step.FORMS):
        return None
    missing = reg.current_step
    if missing is Step.QUALIFICATION:
        return FailedPrecondition("报考资格审核通过后方可下载表格", reason="STEP_NOT_OPEN", field="forms")
    return FailedPrecondition(f"请先完成“{missing.label}”", reason="STEP_NOT_OPEN", field="forms")


def _pledge(session: Session, candidate_no: str) -> PledgeReading:
    row = session.get(TicketPledgeRow, candidate_no)
    return PledgeReading(row.shown_at, row.acknowledged_at) if row else PledgeReading()


def _seat(session: Session, candidate_no: str, reference: ReferenceData) -> SeatInfo | None:
    published = arrangement_with_status(session, PUBLISHED)
    if published is None:
        return None
    found = session.execute(
        select(SeatAssignmentRow, ExamSiteRow, ExamRoomRow)
        .join(ExamSiteRow, ExamSiteRow.code == SeatAssignmentRow.site_code)
        .join(ExamRoomRow, ExamRoomRow.id == SeatAssignmentRow.room_id, isouter=True)
        .where(SeatAssignmentRow.arrangement_id == published.id, SeatAssignmentRow.candidate_no == candidate_no)
    ).first()
    if found is None:
        return None
    assignment, site, room = found
    major = reference.major_category(assignment.major_category)
    return SeatInfo(assignment, site, room, major.label if major else assignment.major_category)


class DownloadsService:
    def __init__(self, deps: DocumentsDeps) -> None:
        self.deps = deps

    # --- the candidate's page ------------------------------------------------------------------

    def overview(self) -> Overview:
        me = require_candidate()
        now = self.deps.clock()
        with self.deps.ctx.db.unit_of_work() as session:
            store = Store(self.deps.ctx, session)
            row = store.candidate(me.subject)
            reg = store.candidates.load(row)
            settings = settings_row(session)
            reference = load_reference(session).data
            refusal = _forms_refusal(reg)
            info = store.info(row.candidate_no) or {}
            published = arrangement_with_status(session, PUBLISHED) is not None
            seat = _seat(session, row.candidate_no, reference) if refusal is None else None
            pledge = _pledge(session, row.candidate_no)
            forms = []
            for kind in FormKind:
                try:
                    self._check(session, kind, row, reg, info, candidate=True, now=now, pledge=pledge)
                except DomainError as err:
                    forms.append(Availability(kind, False, err.message, err.reason))
                else:
                    forms.append(Availability(kind, True))
            calendar = load_calendar(session, calendar_phases)
            window = calendar.window(Phase.TICKET_PRINTING)
            return Overview(
                exam_title=settings.exam_title,
                forms_open=refusal is None,
                closed_reason=refusal.message if refusal else "",
                forms=forms,
                published=published,
                seat=seat,
                ticket_open_at=window.opens_at,
                ticket_close_at=window.closes_at,
                ticket_text=str(calendar.line(Phase.TICKET_PRINTING, now, published)),
                pledge=pledge,
                now=now,
            )

    # --- 考生诚信考试承诺书 ------------------------------------------------------------------------

    def show_pledge(self) -> tuple[PledgeReading, datetime]:
        """The server serves the pledge: the 10-second reading time runs from the first time."""
        me = require_candidate()
        now = self.deps.clock()
        with self.deps.ctx.db.unit_of_work() as session:
            store = Store(self.deps.ctx, session)
            reg = store.candidates.load(store.candidate(me.subject, for_update=True))
            if (refusal := _forms_refusal(reg)) is not None:
                raise refusal
            row = session.get(TicketPledgeRow, me.subject)
            if row is None:
                row = TicketPledgeRow(candidate_no=me.subject)
                session.add(row)
            reading = PledgeReading(row.shown_at, row.acknowledged_at).show(now)
            row.shown_at = reading.shown_at
            return reading, now

    def acknowledge_pledge(self) -> tuple[PledgeReading, datetime]:
        me = require_candidate()
        now = self.deps.clock()
        with self.deps.ctx.db.unit_of_work() as session:
            store = Store(self.deps.ctx, session)
            reg = store.candidates.load(store.candidate(me.subject, for_update=True))
            if (refusal := _forms_refusal(reg)) is not None:
                raise refusal
            row = session.get(TicketPledgeRow, me.subject)
            reading = PledgeReading(row.shown_at, row.acknowledged_at) if row else PledgeReading()
            reading = reading.acknowledge(now)  # NOTICE_NOT_SHOWN / NOTICE_TOO_SOON
            assert row is not None  # acknowledge() refuses a pledge never shown
            row.acknowledged_at = reading.acknowledged_at
            return reading, now

    # --- the documents -------------------------------------------------------------------------------

    def download(self, kind_value: str, candidate_no: str) -> FormFile:
        kind = parse_form_kind(kind_value)
        caller = current_principal()
        now = self.deps.clock()
        staff = caller.is_staff
        with self.deps.ctx.db.unit_of_work() as session:
            store = Store(self.deps.ctx, session)
            if staff:
                number = check_candidate_no(candidate_no)
                row = session.get(Candidate, number)
                if row is None:
                    raise NotFound("考生不存在", reason="NO_CANDIDATE", field="candidate_no")
                require_scope(row.city_code, row.point_code)
            else:
                me = require_candidate()
                if candidate_no and candidate_no != me.subject:
                    # Another candidate's documents: do not even confirm the number exists.
                    raise NotFound("考生不存在", reason="NO_CANDIDATE", field="candidate_no")
                row = store.candidate(me.subject)
            reg = store.candidates.load(row)
            info = store.info(row.candidate_no) or {}
            pledge = _pledge(session, row.candidate_no)
            self._check(session, kind, row, reg, info, candidate=not staff, now=now, pledge=pledge)
            view = self._view(session, kind, row, reg, info, masked=staff)
        photo = self.deps.portraits.get(row.candidate_no)
        data = self.deps.renderer.render(replace(view, photo=photo))
        if not staff and reg.forms_downloaded_at is None:
            self._record_downloaded(row.candidate_no, now)
        if staff:
            log.info("staff downloaded a candidate document", extra={"kind": kind.value, "by": caller.subject})
        return FormFile(kind.filename(row.candidate_no), data)

    def _record_downloaded(self, candidate_no: str, now: datetime) -> None:
        """The first download turns the 表格下载 step green."""
        with self.deps.ctx.db.unit_of_work() as session:
            repo = CandidateRepository(session)
            row = repo.get(candidate_no, for_update=True)
            if row is None:
                return
            reg = repo.load(row)
            try:
                new = reg.record_forms_downloaded(now)
            except DomainError:
                return  # abandoned in the meantime: nothing to mark
            if new is not reg:
                repo.save(row, new)

    def _check(
        self,
        session: Session,
        kind: FormKind,
        row: Candidate,
        reg: Registration,
        info: dict,
        *,
        candidate: bool,
        now: datetime,
        pledge: PledgeReading,
    ) -> None:
        """Refuse a document the caller may not have now (the reason says why, in Chinese)."""
        if (refusal := _forms_refusal(reg)) is not None:
            raise refusal
        if kind is FormKind.BONUS:
            check_bonus_form(bool(info.get("claims_bonus_points")))
        if kind is not FormKind.TICKET:
            return
        if arrangement_with_status(session, PUBLISHED) is None:
            raise FailedPrecondition(
                "考场尚未编排发布，暂不能打印准考证", reason="ARRANGEMENT_NOT_PUBLISHED", field="ticket"
            )
        if _seat(session, row.candidate_no, load_reference(session).data) is None:
            raise FailedPrecondition("未查询到您的考场安排，请联系报名点", reason="NO_SEAT", field="ticket")
        if candidate:
            require_phase(session, Phase.TICKET_PRINTING, now)  # staff print whatever the phase
            pledge.check_read()

    def _view(
        self,
        session: Session,
        kind: FormKind,
        row: Candidate,
        reg: Registration,
        info: dict,
        *,
        masked: bool,
    ) -> View:
        reference = load_reference(session).data
        title = settings_row(session).exam_title
        person = person_view(row, info, reference, masked)
        if kind is FormKind.REGISTRATION:
            receipt = session.get(PaymentReceiptRow, row.candidate_no)
            return RegistrationFormView(title, person, progress_view(row, reg, receipt), None)
        if kind is FormKind.MEDICAL:
            return MedicalFormView(title, person, None)
        if kind is FormKind.BONUS:
            return BonusFormView(title, person, None)
        seat = _seat(session, row.candidate_no, reference)
        assert seat is not None  # _check refused a ticket without a seat
        sessions = session.scalars(
            select(ExamSessionRow)
            .where(ExamSessionRow.major_category == seat.assignment.major_category)
            .order_by(ExamSessionRow.day, ExamSessionRow.start)
        ).all()
        token = self.deps.tokens.sign(seat.assignment.ticket_serial)
        return TicketView(
            exam_title=title,
            candidate_no=row.candidate_no,
            name=person.name,
            id_number=mask_id_number(str(info.get("id_number", ""))),
            major_category=seat.major_label,
            site_name=seat.site.name,
            site_address=seat.site.address,
            room_no=seat.assignment.room_no,
            room_location=seat.room.location if seat.room else "",
            seat_no=f"{seat.assignment.seat_no:02d}",
            sessions=tuple(SessionLine(*line) for line in session_lines(sessions)),
            verify_url=self.deps.verify_url(token),
            token=token,
            photo=None,
        )
