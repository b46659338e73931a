"""gRPC servicer of the identity service: messages in, use cases called, messages out."""

from __future__ import annotations

from datetime import datetime

import grpc

from services.identity.adapters import JobRow, PhotoRow
from services.identity.domain.case import (
    CaseStatus,
    IdentityCase,
    PhotoKind,
    ReviewReason,
    guidance,
)
from services.identity.domain.consent import consent_notice
from services.identity.service.app import IdentityApp, app_for
from services.identity.service.candidate import MyIdentity
from services.identity.service.staff import StaffCase
from zsb.common.clock import unix
from zsb.common.grpc_server import Registrar, registrar
from zsb.common.runtime import ServiceContext
from zsb.identity.v1 import identity_pb2 as pb
from zsb.identity.v1 import identity_pb2_grpc

_SERVICE = pb.DESCRIPTOR.services_by_name["IdentityService"]


def _ts(at: datetime | None) -> int:
    return unix(at) if at else 0


def photo_to_pb(p: PhotoRow) -> pb.Photo:
    return pb.Photo(
        id=p.id,
        kind=p.kind,
        kind_label=PhotoKind(p.kind).label,
        content_type=p.content_type,
        size=p.size,
        width=p.width,
        height=p.height,
        uploaded_at=_ts(p.uploaded_at),
        mismatch=p.mismatch,
        deleted=p.deleted_at is not None,
        deleted_at=_ts(p.deleted_at),
    )


def _photos(photos: dict[PhotoKind, PhotoRow]) -> list[pb.Photo]:
    return [photo_to_pb(photos[k]) for k in PhotoKind if k in photos]


def job_to_pb(j: JobRow, position: int = 0) -> pb.Verification:
    out = pb.Verification(
        id=j.id,
        state=j.state,
        enqueued_at=_ts(j.enqueued_at),
        finished_at=_ts(j.finished_at),
        outcome=j.outcome,
        threshold=j.threshold or 0.0,
        problem=j.problem,
        problem_kind=j.problem_kind,
        message=j.message,
        queue_position=position,
    )
    if j.distance is not None:
        out.has_distance, out.distance = True, j.distance
    return out


def _reason(case: IdentityCase) -> tuple[str, str]:
    r = case.review_reason
    return (r.value, r.label) if r is not None else ("", "")


def identity_to_pb(app: IdentityApp, mine: MyIdentity) -> pb.IdentityView:
    case, policy, settings = mine.case, app.deps.policy, app.settings
    notice = consent_notice(settings.photo_retention_days)
    eligible = not mine.ineligible
    in_time = mine.window.open
    present = {k for k, p in mine.photos.items() if p.deleted_at is None}
    consented = case.has_consent(policy)
    advice = guidance(case, policy)
    reason, reason_label = _reason(case)
    out = pb.IdentityView(
        candidate_no=mine.candidate_no,
        eligible=eligible,
        ineligible_message=mine.ineligible,
        status=case.status.value,
        status_label=case.status.label,
        message=advice.message,
        next_step=advice.next_step,
        consent_given=consented,
        consent_at=_ts(case.consent_at) if consented else 0,
        consent_version=case.consent_version,
        consent=pb.ConsentNotice(
            version=notice.version,
            title=notice.title,
            sections=[pb.ConsentSection(heading=h, text=t) for h, t in notice.sections],
            retention_days=settings.photo_retention_days,
        ),
        photos=_photos(mine.photos),
        attempts=case.attempts,
        max_attempts=policy.max_automatic_attempts,
        can_upload=eligible and in_time and consented and case.status.open,
        can_start=eligible
        and in_time
        and consented
        and case.status.open
        and present >= set(PhotoKind)
        and not (case.status is CaseStatus.RETAKE and case.retake_kind is not None),
        can_request_review=eligible and in_time and consented and case.status.open and present >= set(PhotoKind),
        review_reason=reason,
        review_reason_label=reason_label,
        request_reason=case.request_reason,
        decision_reason=case.decision_reason,
        decided_at=_ts(case.decided_at),
        retake_kind=case.retake_kind.value if case.retake_kind else "",
        max_upload_bytes=settings.photo_max_bytes,
        window_open=in_time,
        window_text=mine.window.text,
    )
    if mine.current is not None:
        out.has_current = True
        out.current.CopyFrom(job_to_pb(mine.current, mine.queue_position))
    return out


def case_to_pb(app: IdentityApp, s: StaffCase) -> pb.CaseView:
    reason, reason_label = _reason(s.case)
    return pb.CaseView(
        candidate_no=s.candidate.candidate_no,
        name=s.candidate.name,
        city_code=s.candidate.city_code,
        point_code=s.candidate.point_code,
        status=s.case.status.value,
        status_label=s.case.status.label,
        review_reason=reason,
        review_reason_label=reason_label,
        request_reason=s.case.request_reason,
        review_since=_ts(s.case.review_since),
        photos=_photos(s.photos),
        verifications=[job_to_pb(j) for j in s.jobs],
        attempts=s.case.attempts,
        max_attempts=app.deps.policy.max_automatic_attempts,
        decided_by=s.case.decided_by,
        decision_reason=s.case.decision_reason,
        decided_at=_ts(s.case.decided_at),
        consent_at=_ts(s.case.consent_at),
        decidable=s.case.status is CaseStatus.MANUAL_REVIEW,
    )


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, app: IdentityApp) -> None:
        self.app = app

    # --- candidate ---------------------------------------------------------------------------

    def GetMyIdentity(self, request: pb.GetMyIdentityRequest, context: grpc.ServicerContext) -> pb.IdentityView:
        return identity_to_pb(self.app, self.app.candidates.view())

    def GiveConsent(self, request: pb.GiveConsentRequest, context: grpc.ServicerContext) -> pb.IdentityView:
        return identity_to_pb(self.app, self.app.candidates.consent(request.version))

    def UploadPhoto(self, request: pb.UploadPhotoRequest, context: grpc.ServicerContext) -> pb.UploadPhotoResponse:
        photo, mine = self.app.candidates.upload(request.kind, request.filename, request.declared_type, request.data)
        return pb.UploadPhotoResponse(photo=photo_to_pb(photo), identity=identity_to_pb(self.app, mine))

    def StartVerification(self, request: pb.StartVerificationRequest, context: grpc.ServicerContext) -> pb.IdentityView:
        return identity_to_pb(self.app, self.app.candidates.start())

    def RequestManualReview(
        self, request: pb.RequestManualReviewRequest, context: grpc.ServicerContext
    ) -> pb.IdentityView:
        return identity_to_pb(self.app, self.app.candidates.request_review(request.reason))

    def ReadPhoto(self, request: pb.ReadPhotoRequest, context: grpc.ServicerContext) -> pb.PhotoChunk:
        chunk = self.app.staff.read_photo(request.photo_id, request.offset, request.limit)
        return pb.PhotoChunk(photo=photo_to_pb(chunk.photo), data=chunk.data, total_size=chunk.total_size)

    def GetPortrait(self, request: pb.GetPortraitRequest, context: grpc.ServicerContext) -> pb.Portrait:
        jpeg, width, height = self.app.staff.portrait(request.candidate_no)
        return pb.Portrait(jpeg=jpeg, width=width, height=height)

    # --- staff ---------------------------------------------------------------------------------

    def ListReviews(self, request: pb.ListReviewsRequest, context: grpc.ServicerContext) -> pb.ListReviewsResponse:
        page = self.app.staff.list_reviews(
            request.status, request.city_code, request.point_code, request.review_reason, request.limit, request.offset
        )
        rows = []
        for case, candidate, job in page.rows:
            status = CaseStatus(case.status)
            reason = ReviewReason(case.review_reason) if case.review_reason else None
            row = pb.ReviewRow(
                candidate_no=case.candidate_no,
                name=candidate.name,
                city_code=candidate.city_code,
                point_code=candidate.point_code,
                status=status.value,
                status_label=status.label,
                review_reason=reason.value if reason else "",
                review_reason_label=reason.label if reason else "",
                review_since=_ts(case.review_since),
                decided_at=_ts(case.decided_at),
            )
            if job is not None and job.distance is not None:
                row.has_distance, row.distance, row.threshold = True, job.distance, job.threshold or 0.0
            rows.append(row)
        return pb.ListReviewsResponse(rows=rows, total=page.total)

    def GetCase(self, request: pb.GetCaseRequest, context: grpc.ServicerContext) -> pb.CaseView:
        return case_to_pb(self.app, self.app.staff.get_case(request.candidate_no))

    def DecideReview(self, request: pb.DecideReviewRequest, context: grpc.ServicerContext) -> pb.CaseView:
        return case_to_pb(self.app, self.app.staff.decide(request.candidate_no, request.approve, request.reason))

    def ListAudit(self, request: pb.ListAuditRequest, context: grpc.ServicerContext) -> pb.ListAuditResponse:
        rows = self.app.staff.list_audit(request.subject, request.action, request.limit)
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


def registrars(ctx: ServiceContext) -> list[Registrar]:
    return [
        registrar(identity_pb2_grpc.add_IdentityServiceServicer_to_server, IdentityServicer(app_for(ctx)), _SERVICE)
    ]
