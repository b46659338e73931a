"""gRPC servicer of the registration service: messages in, use cases called, messages out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import grpc

from services.registration.adapters import Candidate, DocumentRow, ReportRow, SiteNoticeRow, SitePageRow
from services.registration.documents.api import PUBLIC_METHODS as DOCUMENTS_PUBLIC_METHODS
from services.registration.documents.api import DocumentsApi
from services.registration.domain import (
    FIELD_LABELS,
    REPORT_LOCK_MESSAGE,
    DocumentKind,
    QualificationStatus,
    ReferenceData,
)
from services.registration.service import DocumentsService, StaffService, WizardService
from services.registration.service.calendar import CalendarService, CalendarSnapshot
from services.registration.service.candidates import CandidateLine, CandidatesService, Counts
from services.registration.service.common import Snapshot, StoredReference, check_candidate_no, load_reference
from services.registration.service.content import ContentService, HotlineInput, HotlineView, NoticeInput
from services.registration.service.staff import ReportView
from services.registration.service.wizard import NoticeState, notice_states
from zsb.common.calendar import PHASE_LABELS, Phase
from zsb.common.clock import unix
from zsb.common.errors import InvalidArgument, NotFound
from zsb.common.grpc_server import Registrar, registrar
from zsb.common.pii import mask_id_number, mask_phone
from zsb.common.principal import current_principal, require_candidate, require_scope
from zsb.common.runtime import ServiceContext
from zsb.common.validators import MAINLAND_PROVINCES
from zsb.registration.v1 import registration_pb2 as pb
from zsb.registration.v1 import registration_pb2_grpc

_SERVICE = pb.DESCRIPTOR.services_by_name["RegistrationService"]
# Methods callable without an access token (`ServiceSpec.public_methods` in main.py).
PUBLIC_METHODS = DOCUMENTS_PUBLIC_METHODS | {
    f"/zsb.registration.v1.RegistrationService/{name}"
    for name in ("GetCalendar", "ListNotices", "GetSitePage", "ListHotlines")
}
_BOOLS = ("poverty_registered", "claims_bonus_points")
_MASKED = {"id_number": mask_id_number, "phone": mask_phone, "recipient_phone": mask_phone}


def _ts(at: datetime | None) -> int:
    return unix(at) if at else 0


def _bool_text(value: object) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    return str(value or "")


def form_to_pb(info: dict, masked: bool) -> pb.BasicInfo:
    out = pb.BasicInfo()
    for key in FIELD_LABELS:
        if key == "resume":
            continue
        value = info.get(key, "")
        if key in _BOOLS:
            value = _bool_text(value)
        value = "" if value is None else str(value)
        if masked and key in _MASKED and value:
            value = _MASKED[key](value)
        setattr(out, key, value)
    for row in info.get("resume") or []:
        out.resume.add(
            start=row.get("start", ""), end=row.get("end", ""), unit=row.get("unit", ""), role=row.get("role", "")
        )
    return out


def form_from_pb(msg: pb.BasicInfo) -> dict:
    """The raw shape `parse_basic_info` validates; an empty resume stays empty (an error there)."""
    raw: dict = {key: getattr(msg, key) for key in FIELD_LABELS if key != "resume"}
    raw["resume"] = [{"start": r.start, "end": r.end, "unit": r.unit, "role": r.role} for r in msg.resume]
    return raw


def _name(options, code: str) -> str:
    option = options.get(code) if code else None
    return option.name if option else code


def display_fields(info: dict, reference: ReferenceData, masked: bool) -> list[pb.DisplayField]:
    """The form as printed: codes turned into names, yes/no in words, numbers masked for staff."""
    major = reference.major_category(info.get("major_category", ""))
    province = str(info.get("household_province", "") or "")
    values = {
        "ethnicity": _name(reference.ethnicities, info.get("ethnicity", "")),
        "political_status": _name(reference.political_statuses, info.get("political_status", "")),
        "candidate_category": _name(reference.candidate_categories, info.get("candidate_category", "")),
        "candidate_type": _name(reference.candidate_types, info.get("candidate_type", "")),
        "city_code": _name(reference.cities, info.get("city_code", "")),
        "point_code": _name(reference.points, info.get("point_code", "")),
        "major_category": major.label if major else info.get("major_category", ""),
        "music_test_subject": _name(reference.music_test_subjects, info.get("music_test_subject", "")),
        "poverty_registered": "是" if info.get("poverty_registered") else "否",
        "claims_bonus_points": "是" if info.get("claims_bonus_points") else "否",
        "household_province": MAINLAND_PROVINCES.get(province, province),
    }
    out = []
    for key, label in FIELD_LABELS.items():
        if key == "resume" or (key == "music_test_subject" and not info.get(key)):
            continue
        value = values.get(key, str(info.get(key, "") or ""))
        if masked and key in _MASKED and value:
            value = _MASKED[key](value)
        out.append(pb.DisplayField(key=key, label=label, value=value))
    return out


def document_to_pb(d: DocumentRow) -> pb.DocumentView:
    return pb.DocumentView(
        id=d.id,
        kind=d.kind,
        kind_label=DocumentKind(d.kind).label,
        display_name=d.display_name,
        content_type=d.content_type,
        size=d.size,
        uploaded_at=_ts(d.uploaded_at),
        page_count=d.page_count or 0,
        width=d.width or 0,
        height=d.height or 0,
        mismatch=d.mismatch,
    )


def notice_to_pb(s: NoticeState) -> pb.NoticeView:
    return pb.NoticeView(
        notice=s.notice.value,
        label=s.notice.label,
        button=s.notice.button,
        shown_at=_ts(s.shown_at),
        acknowledged_at=_ts(s.acknowledged_at),
        seconds_remaining=s.seconds_remaining,
        open=s.open,
    )


def registration_to_pb(s: Snapshot, masked: bool) -> pb.Registration:
    row, reg, reference = s.row, s.reg, s.reference
    out = pb.Registration(
        candidate_no=row.candidate_no,
        name=row.name,
        status=reg.status.value,
        current_step=reg.current_step.value,
        steps=[
            pb.StepView(step=v.step.value, label=v.step.label, state=v.state.value, note=v.note) for v in reg.steps()
        ],
        notices=[notice_to_pb(n) for n in notice_states(reg, s.now)],
        report_locked=s.locked,
        lock_message=REPORT_LOCK_MESSAGE if s.locked else "",
        has_basic_info=s.info is not None,
        documents=[document_to_pb(d) for d in s.documents],
        point_code=row.point_code,
        city_code=row.city_code,
        point_name=_name(reference.points, row.point_code),
        city_name=_name(reference.cities, row.city_code),
        identity_status=reg.identity.status.value,
        payment_status=reg.payment.status.value,
        editable=_editable(s),
        confirmed_at=_ts(reg.confirmed_at),
        abandoned_at=_ts(reg.abandoned_at),
        payment_refunded=row.payment_refunded_at is not None,
    )
    if s.info is not None:
        out.basic_info.CopyFrom(form_to_pb(s.info, masked))
        out.display.extend(display_fields(s.info, reference, masked))
    review = reg.qualification
    if review is not None:
        kinds = sorted(review.required, key=list(DocumentKind).index)
        out.qualification.CopyFrom(
            pb.QualificationView(
                status=review.status.value,
                label=review.status.label,
                reason=review.reason,
                automatic=review.automatic,
                required=[k.value for k in kinds],
                required_labels=[k.label for k in kinds],
                submitted_at=_ts(review.submitted_at),
                decided_at=_ts(review.decided_at),
                claims_bonus_points=review.claims_bonus_points,
                bonus_points=review.bonus_points,
                bonus_points_max=reference.bonus_points_max,
            )
        )
    return out


def _editable(s: Snapshot) -> bool:
    try:
        s.reg.check_editable(s.locked)
    except Exception:  # noqa: BLE001 - any refusal means "not editable" for the view
        return False
    return True


def report_to_pb(v: ReportView) -> pb.ReportStatus:
    r: ReportRow | None = v.row
    return pb.ReportStatus(
        scope=v.scope,
        code=v.code,
        name=v.name,
        reported=bool(r and r.reported),
        reported_at=_ts(r.reported_at) if r and r.reported else 0,
        reported_by=r.reported_by if r and r.reported else "",
        withdrawal_allowed=bool(r and r.withdrawal_allowed),
        candidates=v.candidates,
    )


def reference_to_pb(r: StoredReference) -> pb.ReferenceData:
    return pb.ReferenceData(
        data_json=json.dumps(r.data.to_dict(), ensure_ascii=False),
        version=r.version,
        updated_at=_ts(r.updated_at),
        updated_by=r.updated_by,
    )


def _moment(seconds: int) -> datetime | None:
    """A request's unix seconds as naive UTC; 0 means unset."""
    if not seconds:
        return None
    if seconds < 0 or seconds > 4_102_444_800:  # before 1970 or after 2100: not a phase of this exam
        raise InvalidArgument("时间不正确", reason="BAD_TIME", field="opens_at")
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def calendar_to_pb(s: CalendarSnapshot) -> pb.CalendarView:
    view = pb.CalendarView()
    for phase in Phase:
        window, record = s.calendar.window(phase), s.records.get(phase)
        line = s.calendar.line(phase, s.now, s.published(phase))
        view.phases.add(
            phase=phase.value,
            label=PHASE_LABELS[phase],
            opens_at=_ts(window.opens_at),
            closes_at=_ts(window.closes_at),
            state=s.calendar.state(phase, s.now).value,
            text=s.calendar.describe(phase, s.now),
            updated_at=_ts(record.updated_at) if record else 0,
            updated_by=record.updated_by if record else "",
            line=str(line),
            line_state=line.state.value,
        )
    upcoming = s.calendar.next_opening(s.now)
    if upcoming is not None:
        view.next_text = s.calendar.describe(upcoming[0], s.now)
    return view


def site_notice_to_pb(r: SiteNoticeRow) -> pb.SiteNotice:
    return pb.SiteNotice(
        id=r.id,
        title=r.title,
        body=r.body,
        published_at=_ts(r.published_at),
        pinned=r.pinned,
        updated_at=_ts(r.updated_at),
        updated_by=r.updated_by,
    )


def page_to_pb(r: SitePageRow) -> pb.SitePage:
    return pb.SitePage(key=r.key, title=r.title, body=r.body, updated_at=_ts(r.updated_at), updated_by=r.updated_by)


def hotlines_to_pb(views: list[HotlineView]) -> pb.HotlineList:
    out = pb.HotlineList()
    for v in views:
        out.hotlines.add(
            city_code=v.row.city_code,
            city_name=v.city_name,
            point_code=v.row.point_code,
            point_name=v.point_name if v.row.point_code else "",
            phone=v.row.phone,
            hours=v.row.hours,
        )
    return out


STATUS_LABELS = {
    "not_started": "未开始",
    "in_progress": "填报中",
    "confirmed": "已确认",
    "completed": "资格审核通过",
    "abandoned": "已放弃报名",
}
REVIEW_LABELS = {"pending_upload": "待上传", "under_review": "审核中", "approved": "审核通过", "rejected": "审核不通过"}


def candidate_line_to_pb(line: CandidateLine, reference: ReferenceData) -> pb.CandidateLine:
    r = line.row
    return pb.CandidateLine(
        candidate_no=r.candidate_no,
        name=r.name,
        city_code=r.city_code,
        city_name=_name(reference.cities, r.city_code),
        point_code=r.point_code,
        point_name=_name(reference.points, r.point_code),
        status=r.status,
        candidate_type=r.candidate_type,
        review_status=r.review_status or "",
        payment_status=r.payment_status,
        id_number=line.id_number,
        phone=line.phone,
    )


def stats_to_pb(c: Counts, reference: ReferenceData) -> pb.RegistrationStats:
    def rows(pairs: list[tuple[str, int]], label) -> list[pb.CountRow]:
        return [pb.CountRow(key=k, label=label(k) or "（未填写）", count=n) for k, n in pairs]

    return pb.RegistrationStats(
        total=c.total,
        by_city=rows(c.by_city, lambda k: _name(reference.cities, k)),
        by_point=rows(c.by_point, lambda k: _name(reference.points, k)),
        by_type=rows(c.by_type, lambda k: _name(reference.candidate_types, k)),
        by_status=rows(c.by_status, lambda k: STATUS_LABELS.get(k, k)),
        by_review=rows(c.by_review, lambda k: REVIEW_LABELS.get(k, k)),
    )


class RegistrationServicer(DocumentsApi, registration_pb2_grpc.RegistrationServiceServicer):
    """The wizard, review and reports here; 表格下载 and the arrangement from `DocumentsApi`."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.wizard = WizardService(ctx)
        self.documents = DocumentsService(ctx)
        self.staff = StaffService(ctx)
        self.calendar = CalendarService(ctx)
        self.content = ContentService(ctx)
        self.candidates = CandidatesService(ctx)

    def GetCandidate(self, request: pb.GetCandidateRequest, context: grpc.ServicerContext) -> pb.Candidate:
        number = check_candidate_no(request.candidate_no)
        caller = current_principal()
        if not caller.is_staff:
            require_candidate(number)
        with self.ctx.db.unit_of_work() as session:
            c: Candidate | None = session.get(Candidate, number)
            if c is None:
                raise NotFound("考生不存在", field="candidate_no")
            if caller.is_staff:
                require_scope(c.city_code, c.point_code)
            return pb.Candidate(candidate_no=c.candidate_no, name=c.name, point_code=c.point_code, status=c.status)

    # --- candidate -------------------------------------------------------------------------------

    def GetMyRegistration(self, request: pb.GetMyRegistrationRequest, context: grpc.ServicerContext) -> pb.Registration:
        return registration_to_pb(self.wizard.get_mine(), masked=False)

    def ShowNotice(self, request: pb.ShowNoticeRequest, context: grpc.ServicerContext) -> pb.NoticeView:
        return notice_to_pb(self.wizard.show_notice(request.notice))

    def AcknowledgeNotice(self, request: pb.AcknowledgeNoticeRequest, context: grpc.ServicerContext) -> pb.Registration:
        return registration_to_pb(self.wizard.acknowledge_notice(request.notice), masked=False)

    def SaveBasicInfo(
        self, request: pb.SaveBasicInfoRequest, context: grpc.ServicerContext
    ) -> pb.SaveBasicInfoResponse:
        result = self.wizard.save_basic_info(form_from_pb(request.info))
        out = pb.SaveBasicInfoResponse(
            saved=not result.errors, errors=[pb.FieldError(field=k, message=v) for k, v in result.errors.items()]
        )
        if result.snapshot is not None:
            out.registration.CopyFrom(registration_to_pb(result.snapshot, masked=False))
        return out

    def ConfirmRegistration(
        self, request: pb.ConfirmRegistrationRequest, context: grpc.ServicerContext
    ) -> pb.Registration:
        return registration_to_pb(self.wizard.confirm(), masked=False)

    def AbandonRegistration(
        self, request: pb.AbandonRegistrationRequest, context: grpc.ServicerContext
    ) -> pb.Registration:
        return registration_to_pb(self.wizard.abandon(request.action_proof), masked=False)

    def UploadDocument(
        self, request: pb.UploadDocumentRequest, context: grpc.ServicerContext
    ) -> pb.UploadDocumentResponse:
        doc, snapshot = self.documents.upload(request.kind, request.filename, request.declared_type, request.data)
        return pb.UploadDocumentResponse(
            document=document_to_pb(doc), registration=registration_to_pb(snapshot, masked=False)
        )

    def DeleteDocument(self, request: pb.DeleteDocumentRequest, context: grpc.ServicerContext) -> pb.Registration:
        return registration_to_pb(self.documents.delete(request.document_id), masked=False)

    def SubmitDocuments(self, request: pb.SubmitDocumentsRequest, context: grpc.ServicerContext) -> pb.Registration:
        return registration_to_pb(self.documents.submit(), masked=False)

    def ReadDocument(self, request: pb.ReadDocumentRequest, context: grpc.ServicerContext) -> pb.DocumentChunk:
        chunk = self.documents.read(request.document_id, request.offset, request.limit)
        return pb.DocumentChunk(document=document_to_pb(chunk.document), data=chunk.data, total_size=chunk.total_size)

    # --- reference data -------------------------------------------------------------------------

    def GetReferenceData(self, request: pb.GetReferenceDataRequest, context: grpc.ServicerContext) -> pb.ReferenceData:
        return reference_to_pb(self.staff.get_reference())

    def ReplaceReferenceData(
        self, request: pb.ReplaceReferenceDataRequest, context: grpc.ServicerContext
    ) -> pb.ReferenceData:
        return reference_to_pb(self.staff.replace_reference(request.data_json))

    # --- staff ------------------------------------------------------------------------------------

    def ListReviews(self, request: pb.ListReviewsRequest, context: grpc.ServicerContext) -> pb.ListReviewsResponse:
        page, reference = self.staff.list_reviews(
            request.city_code, request.point_code, request.candidate_type, request.status, request.limit, request.offset
        )
        rows = []
        for c, count in page.rows:
            status = QualificationStatus(c.review_status)
            kinds = sorted((DocumentKind(k) for k in c.review_required.split(",") if k), key=list(DocumentKind).index)
            rows.append(
                pb.ReviewRow(
                    candidate_no=c.candidate_no,
                    name=c.name,
                    city_code=c.city_code,
                    point_code=c.point_code,
                    candidate_type=c.candidate_type,
                    candidate_type_label=_name(reference.candidate_types, c.candidate_type),
                    status=status.value,
                    status_label=status.label,
                    required_labels=[k.label for k in kinds],
                    submitted_at=_ts(c.review_submitted_at),
                    documents=count,
                )
            )
        return pb.ListReviewsResponse(rows=rows, total=page.total)

    def GetCandidateRegistration(
        self, request: pb.GetCandidateRegistrationRequest, context: grpc.ServicerContext
    ) -> pb.Registration:
        return registration_to_pb(self.staff.get_registration(request.candidate_no), masked=True)

    def DecideReview(self, request: pb.DecideReviewRequest, context: grpc.ServicerContext) -> pb.Registration:
        decided = self.staff.decide(request.candidate_no, request.approve, request.reason, request.bonus_points)
        return registration_to_pb(decided, masked=True)

    def ListReports(self, request: pb.ListReportsRequest, context: grpc.ServicerContext) -> pb.ListReportsResponse:
        return pb.ListReportsResponse(reports=[report_to_pb(v) for v in self.staff.list_reports(request.scope)])

    def Report(self, request: pb.ReportRequest, context: grpc.ServicerContext) -> pb.ReportStatus:
        return report_to_pb(self.staff.report(request.scope, request.code))

    def WithdrawReport(self, request: pb.ReportRequest, context: grpc.ServicerContext) -> pb.ReportStatus:
        return report_to_pb(self.staff.withdraw(request.scope, request.code))

    def SetWithdrawalAllowed(
        self, request: pb.SetWithdrawalAllowedRequest, context: grpc.ServicerContext
    ) -> pb.ReportStatus:
        return report_to_pb(self.staff.set_withdrawal_allowed(request.scope, request.code, request.allowed))

    def ListAudit(self, request: pb.ListAuditRequest, context: grpc.ServicerContext) -> pb.ListAuditResponse:
        rows = self.staff.list_audit(request.subject, request.action, request.limit)
        return pb.ListAuditResponse(
            entries=[
                pb.AuditEntry(
                    id=r.id,
                    at=_ts(r.at),
                    actor=r.actor,
                    actor_role=r.actor_role,
                    action=r.action,
                    subject=r.subject,
                    detail=r.detail,
                )
                for r in rows
            ]
        )

    # --- calendar ------------------------------------------------------------------------------

    def GetCalendar(self, request: pb.GetCalendarRequest, context: grpc.ServicerContext) -> pb.CalendarView:
        return calendar_to_pb(self.calendar.get())

    def SetCalendarPhase(self, request: pb.SetCalendarPhaseRequest, context: grpc.ServicerContext) -> pb.CalendarView:
        return calendar_to_pb(
            self.calendar.set_phase(request.phase, _moment(request.opens_at), _moment(request.closes_at))
        )

    # --- content (2.6) -------------------------------------------------------------------------

    def ListNotices(self, request: pb.ListNoticesRequest, context: grpc.ServicerContext) -> pb.ListNoticesResponse:
        rows = self.content.list_notices(request.all, request.limit)
        return pb.ListNoticesResponse(notices=[site_notice_to_pb(r) for r in rows])

    def SaveNotice(self, request: pb.SaveNoticeRequest, context: grpc.ServicerContext) -> pb.SiteNotice:
        n = request.notice
        data = NoticeInput(n.id, n.title, n.body, _moment(n.published_at), n.pinned)
        return site_notice_to_pb(self.content.save_notice(data))

    def DeleteNotice(self, request: pb.DeleteNoticeRequest, context: grpc.ServicerContext) -> pb.ListNoticesResponse:
        self.content.delete_notice(request.id)
        return pb.ListNoticesResponse(notices=[site_notice_to_pb(r) for r in self.content.list_notices(True, 100)])

    def GetSitePage(self, request: pb.GetSitePageRequest, context: grpc.ServicerContext) -> pb.SitePage:
        return page_to_pb(self.content.get_page(request.key))

    def SaveSitePage(self, request: pb.SitePage, context: grpc.ServicerContext) -> pb.SitePage:
        return page_to_pb(self.content.save_page(request.key, request.body))

    def ListHotlines(self, request: pb.ListHotlinesRequest, context: grpc.ServicerContext) -> pb.HotlineList:
        return hotlines_to_pb(self.content.list_hotlines())

    def ReplaceHotlines(self, request: pb.ReplaceHotlinesRequest, context: grpc.ServicerContext) -> pb.HotlineList:
        lines = [HotlineInput(h.city_code, h.point_code, h.phone, h.hours) for h in request.hotlines]
        return hotlines_to_pb(self.content.replace_hotlines(lines))

    # --- staff: candidates and statistics --------------------------------------------------------

    def _reference(self) -> ReferenceData:
        with self.ctx.db.unit_of_work() as session:
            return load_reference(session).data

    def SearchCandidates(
        self, request: pb.SearchCandidatesRequest, context: grpc.ServicerContext
    ) -> pb.SearchCandidatesResponse:
        page = self.candidates.search(
            request.candidate_no, request.name, request.point_code, request.status, request.limit, request.offset
        )
        reference = self._reference()
        return pb.SearchCandidatesResponse(
            lines=[candidate_line_to_pb(line, reference) for line in page.lines], total=page.total
        )

    def RevealCandidate(self, request: pb.RevealCandidateRequest, context: grpc.ServicerContext) -> pb.CandidateLine:
        return candidate_line_to_pb(self.candidates.reveal(request.candidate_no, request.purpose), self._reference())

    def GetRegistrationStats(
        self, request: pb.GetRegistrationStatsRequest, context: grpc.ServicerContext
    ) -> pb.RegistrationStats:
        return stats_to_pb(self.candidates.counts(), self._reference())


def registrars(ctx: ServiceContext) -> list[Registrar]:
    return [
        registrar(registration_pb2_grpc.add_RegistrationServiceServicer_to_server, RegistrationServicer(ctx), _SERVICE)
    ]
