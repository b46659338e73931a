"""gRPC methods of 表格下载 and the exam arrangement, mixed into `RegistrationServicer`.

`PUBLIC_METHODS` lists what may be called without an access token (the QR verification page).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import grpc

from services.registration.documents.domain import PledgeReading
from services.registration.documents.service import (
    ArrangementService,
    DownloadsService,
    PlanService,
    VerificationService,
    deps_for,
)
from services.registration.documents.service.arranging import ArrangementReport
from services.registration.documents.service.downloads import Overview, SeatInfo
from services.registration.documents.service.plan import PlanSnapshot
from zsb.common.clock import unix
from zsb.common.context import ACCESS_TOKEN_HEADER, reset_access_token, set_access_token
from zsb.common.errors import InvalidArgument
from zsb.common.runtime import ServiceContext
from zsb.registration.v1 import registration_pb2 as pb

PUBLIC_METHODS = frozenset({"/zsb.registration.v1.RegistrationService/VerifyTicket"})
MAX_ROOMS_IN_REQUEST = 1000


def _ts(at: datetime | None) -> int:
    return unix(at) if at else 0


@contextmanager
def caller_token(context: grpc.ServicerContext) -> Iterator[None]:
    """Pass the caller's access token on to the services this call asks (the photo)."""
    header = dict(context.invocation_metadata() or ()).get(ACCESS_TOKEN_HEADER, "")
    token = set_access_token(header[len("Bearer ") :] if header.startswith("Bearer ") else "")
    try:
        yield
    finally:
        reset_access_token(token)


def pledge_to_pb(reading: PledgeReading, now: datetime) -> pb.PledgeView:
    return pb.PledgeView(
        shown_at=_ts(reading.shown_at),
        acknowledged_at=_ts(reading.acknowledged_at),
        seconds_remaining=reading.seconds_remaining(now),
    )


def seat_to_pb(seat: SeatInfo) -> pb.SeatView:
    return pb.SeatView(
        site_code=seat.site.code,
        site_name=seat.site.name,
        site_address=seat.site.address,
        room_no=seat.assignment.room_no,
        room_location=seat.room.location if seat.room else "",
        seat_no=seat.assignment.seat_no,
        major_category=seat.major_label,
    )


def overview_to_pb(o: Overview) -> pb.DocumentsOverview:
    out = pb.DocumentsOverview(
        exam_title=o.exam_title,
        forms_open=o.forms_open,
        closed_reason=o.closed_reason,
        forms=[
            pb.FormAvailability(
                kind=f.kind.value, label=f.kind.label, available=f.available, reason=f.reason, code=f.code
            )
            for f in o.forms
        ],
        arrangement_published=o.published,
        ticket_open_at=_ts(o.ticket_open_at),
        ticket_close_at=_ts(o.ticket_close_at),
        ticket_text=o.ticket_text,
        pledge=pledge_to_pb(o.pledge, o.now),
    )
    if o.seat is not None:
        out.seat.CopyFrom(seat_to_pb(o.seat))
    return out


def plan_to_pb(snap: PlanSnapshot) -> pb.ExamPlan:
    s, ref = snap.settings, snap.reference
    out = pb.ExamPlan(
        settings=pb.ExamSettings(
            exam_title=s.exam_title,
            arrangement_seed=s.arrangement_seed,
            plan_version=s.plan_version,
            updated_at=_ts(s.updated_at),
            updated_by=s.updated_by,
        )
    )
    for site, rooms in snap.sites:
        city = ref.cities.get(site.city_code)
        out.sites.add(
            code=site.code,
            name=site.name,
            city_code=site.city_code,
            address=site.address,
            rooms=[pb.ExamRoom(id=r.id, room_no=r.room_no, capacity=r.capacity, location=r.location) for r in rooms],
            city_name=city.name if city else site.city_code,
            capacity=sum(r.capacity for r in rooms),
        )
    for row in snap.sessions:
        major = ref.major_category(row.major_category)
        out.sessions.add(
            id=row.id,
            major_category=row.major_category,
            subject=row.subject,
            day=row.day.isoformat(),
            start=row.start,
            end=row.end,
            major_category_label=major.label if major else row.major_category,
        )
    return out


def arrangement_to_pb(r: ArrangementReport) -> pb.ArrangementView:
    out = pb.ArrangementView(
        plan_changed=r.plan_changed,
        eligible_now=r.eligible_now,
        missing=r.missing,
        stale=r.stale,
        published_id=r.published_id,
        draft_id=r.draft_id,
        cities=[
            pb.CityFill(city_code=c, city_name=n, candidates=people, rooms=rooms, capacity=seats)
            for c, n, people, rooms, seats in r.cities
        ],
        rooms=[
            pb.RoomFill(
                site_code=f.site.code,
                site_name=f.site.name,
                room_no=f.room.room_no,
                major_category=f.category,
                seats_used=f.used,
                capacity=f.room.capacity,
                city_code=f.site.city_code,
            )
            for f in r.rooms
        ],
    )
    row = r.row
    if row is not None:
        out.id, out.status, out.seed, out.keep_published = row.id, row.status, row.seed, row.kept_published
        out.candidates, out.created_at, out.created_by = row.candidates, _ts(row.created_at), row.created_by
        out.published_at, out.published_by = _ts(row.published_at), row.published_by
    return out


class DocumentsApi:
    """The methods; `RegistrationServicer` inherits them and sets `self.ctx`."""

    ctx: ServiceContext

    @property
    def _deps(self):
        return deps_for(self.ctx)

    # --- candidate ---------------------------------------------------------------------------

    def GetMyDocuments(self, request: pb.GetMyDocumentsRequest, context: grpc.ServicerContext) -> pb.DocumentsOverview:
        return overview_to_pb(DownloadsService(self._deps).overview())

    def ShowTicketPledge(self, request: pb.ShowTicketPledgeRequest, context: grpc.ServicerContext) -> pb.PledgeView:
        return pledge_to_pb(*DownloadsService(self._deps).show_pledge())

    def AcknowledgeTicketPledge(
        self, request: pb.AcknowledgeTicketPledgeRequest, context: grpc.ServicerContext
    ) -> pb.PledgeView:
        return pledge_to_pb(*DownloadsService(self._deps).acknowledge_pledge())

    def DownloadForm(self, request: pb.DownloadFormRequest, context: grpc.ServicerContext) -> pb.FormFile:
        with caller_token(context):
            f = DownloadsService(self._deps).download(request.kind, request.candidate_no)
        return pb.FormFile(filename=f.filename, content_type="application/pdf", data=f.data)

    # --- the exam plan -------------------------------------------------------------------------

    def GetExamPlan(self, request: pb.GetExamPlanRequest, context: grpc.ServicerContext) -> pb.ExamPlan:
        return plan_to_pb(PlanService(self._deps).get())

    def SaveExamSettings(self, request: pb.ExamSettings, context: grpc.ServicerContext) -> pb.ExamPlan:
        return plan_to_pb(PlanService(self._deps).save_settings(request.exam_title, request.arrangement_seed))

    def SaveExamSite(self, request: pb.SaveExamSiteRequest, context: grpc.ServicerContext) -> pb.ExamPlan:
        site = request.site
        if len(site.rooms) > MAX_ROOMS_IN_REQUEST:
            raise InvalidArgument("考场过多", reason="BAD_ROOM", field="rooms")
        rooms = [(r.room_no, r.capacity, r.location) for r in site.rooms]
        return plan_to_pb(PlanService(self._deps).save_site(site.code, site.name, site.city_code, site.address, rooms))

    def DeleteExamSite(self, request: pb.DeleteExamSiteRequest, context: grpc.ServicerContext) -> pb.ExamPlan:
        return plan_to_pb(PlanService(self._deps).delete_site(request.code))

    def SaveExamSession(self, request: pb.SaveExamSessionRequest, context: grpc.ServicerContext) -> pb.ExamPlan:
        s = request.session
        return plan_to_pb(
            PlanService(self._deps).save_session(s.id, s.major_category, s.subject, s.day, s.start, s.end)
        )

    def DeleteExamSession(self, request: pb.DeleteExamSessionRequest, context: grpc.ServicerContext) -> pb.ExamPlan:
        return plan_to_pb(PlanService(self._deps).delete_session(request.id))

    # --- the arrangement --------------------------------------------------------------------------

    def RunArrangement(self, request: pb.RunArrangementRequest, context: grpc.ServicerContext) -> pb.ArrangementView:
        return arrangement_to_pb(ArrangementService(self._deps).run(request.keep_published))

    def GetArrangement(self, request: pb.GetArrangementRequest, context: grpc.ServicerContext) -> pb.ArrangementView:
        return arrangement_to_pb(ArrangementService(self._deps).get(request.arrangement_id))

    def ListSeatAssignments(
        self, request: pb.ListSeatAssignmentsRequest, context: grpc.ServicerContext
    ) -> pb.ListSeatAssignmentsResponse:
        rows, total = ArrangementService(self._deps).list_seats(
            request.arrangement_id,
            request.city_code,
            request.site_code,
            request.room_no,
            request.candidate_no,
            request.limit,
            request.offset,
        )
        return pb.ListSeatAssignmentsResponse(
            rows=[
                pb.SeatAssignment(
                    candidate_no=a.candidate_no,
                    name=c.name,
                    point_code=c.point_code,
                    major_category=a.major_category,
                    site_code=a.site_code,
                    site_name=s.name if s else a.site_code,
                    room_no=a.room_no,
                    seat_no=a.seat_no,
                )
                for a, c, s in rows
            ],
            total=total,
        )

    def PublishArrangement(
        self, request: pb.PublishArrangementRequest, context: grpc.ServicerContext
    ) -> pb.ArrangementView:
        return arrangement_to_pb(ArrangementService(self._deps).publish(request.arrangement_id))

    def DiscardArrangement(
        self, request: pb.DiscardArrangementRequest, context: grpc.ServicerContext
    ) -> pb.ArrangementView:
        return arrangement_to_pb(ArrangementService(self._deps).discard(request.arrangement_id))

    # --- public ----------------------------------------------------------------------------------

    def VerifyTicket(self, request: pb.VerifyTicketRequest, context: grpc.ServicerContext) -> pb.TicketVerification:
        v = VerificationService(self._deps).verify(request.token)
        return pb.TicketVerification(
            status=v.status,
            message=v.message,
            exam_title=v.exam_title,
            candidate_no=v.candidate_no,
            masked_name=v.masked_name,
            major_category=v.major_category,
            site_name=v.site_name,
            room_no=v.room_no,
            seat_no=v.seat_no,
            published_at=_ts(v.published_at),  # type: ignore[arg-type]
        )
