"""gRPC servicer of the preferences service: messages in, use cases called, messages out."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc

from services.preferences.domain.filling import SLOTS, Choice, Item
from services.preferences.service.common import BatchView, VersionView
from services.preferences.service.filling import BatchStatus, FillingService
from services.preferences.service.plan import PlanService
from zsb.common.clock import unix
from zsb.common.errors import InvalidArgument
from zsb.common.grpc_server import Registrar, registrar
from zsb.common.runtime import ServiceContext
from zsb.preferences.v1 import preferences_pb2 as pb
from zsb.preferences.v1 import preferences_pb2_grpc

_SERVICE = pb.DESCRIPTOR.services_by_name["PreferencesService"]
# A window may be set from 2000 to 2100; anything else is a typing error, not a date.
_MIN_TIME, _MAX_TIME = 946684800, 4102444800


def _time(value: datetime | None) -> int:
    return unix(value) if value is not None else 0


def _from_unix(seconds: int, field: str) -> datetime | None:
    if seconds == 0:
        return None
    if not _MIN_TIME <= seconds <= _MAX_TIME:
        raise InvalidArgument("时间不正确", reason="BAD_TIME", field=field)
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def batch_pb(b: BatchView) -> pb.Batch:
    return pb.Batch(
        code=b.code,
        name=b.name,
        position=b.position,
        poverty_only=b.poverty_only,
        opens_at=_time(b.opens_at),
        closes_at=_time(b.closes_at),
        state=int(b.state),
        window_text=b.window_text,
        schedule_line=b.schedule_line,
    )


def _items(items: list[Item]) -> list[pb.Item]:
    return [
        pb.Item(
            slot=i.slot,
            institution_code=i.institution_code,
            institution_name=i.institution_name,
            major_code=i.major_code,
            major_name=i.major_name,
        )
        for i in items
    ]


def version_pb(v: VersionView) -> pb.Version:
    return pb.Version(
        id=v.id, number=v.number, submitted_at=unix(v.submitted_at), current=v.current, items=_items(v.items)
    )


def status_pb(s: BatchStatus) -> pb.BatchStatus:
    return pb.BatchStatus(
        batch=batch_pb(s.batch),
        allowed=s.allowed,
        not_allowed_reason=s.reason,
        has_current=s.current is not None,
        current=version_pb(s.current) if s.current else None,
        withdrawn=s.withdrawn,
    )


class PreferencesServicer(preferences_pb2_grpc.PreferencesServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self.plan = PlanService(ctx)
        self.filling = FillingService(ctx)

    # ---- province ----

    def ImportPlan(self, request: pb.ImportPlanRequest, context: grpc.ServicerContext) -> pb.ImportPlanResponse:
        rows = [
            {
                "batch": r.batch,
                "institution_code": r.institution_code,
                "institution_name": r.institution_name,
                "major_code": r.major_code,
                "major_name": r.major_name,
                "major_category": r.major_category,
                "places": r.places,
            }
            for r in request.rows
        ]
        result = self.plan.import_plan(rows)
        return pb.ImportPlanResponse(
            errors=[pb.RowError(row=p.row, field=p.field, message=p.message) for p in result.problems],
            institutions=result.institutions,
            majors=result.majors,
            lines=result.lines,
            plan_version=result.version,
            places=result.places,
        )

    def ScheduleBatch(self, request: pb.ScheduleBatchRequest, context: grpc.ServicerContext) -> pb.Batch:
        opens = _from_unix(request.opens_at, "opens_at")
        closes = _from_unix(request.closes_at, "closes_at")
        return batch_pb(self.plan.schedule_batch(request.code, opens, closes))

    def OrderBatches(self, request: pb.OrderBatchesRequest, context: grpc.ServicerContext) -> pb.ListBatchesResponse:
        return pb.ListBatchesResponse(batches=[batch_pb(b) for b in self.plan.order_batches(list(request.codes))])

    def ListStaffActions(
        self, request: pb.ListStaffActionsRequest, context: grpc.ServicerContext
    ) -> pb.ListStaffActionsResponse:
        rows = self.plan.list_staff_actions(request.limit or 100)
        return pb.ListStaffActionsResponse(
            actions=[
                pb.StaffAction(
                    id=r.id, at=unix(r.at), actor=r.actor, action=r.action, subject=r.subject, detail=r.detail
                )
                for r in rows
            ]
        )

    # ---- anyone signed in ----

    def ListBatches(self, request: pb.ListBatchesRequest, context: grpc.ServicerContext) -> pb.ListBatchesResponse:
        return pb.ListBatchesResponse(batches=[batch_pb(b) for b in self.plan.list_batches()])

    def GetPlan(self, request: pb.GetPlanRequest, context: grpc.ServicerContext) -> pb.GetPlanResponse:
        page = self.plan.get_plan(request.query, request.batch_code, request.major_category)
        return pb.GetPlanResponse(
            batches=[batch_pb(b) for b in page.batches],
            lines=[
                pb.PlanLine(
                    batch_code=line.batch_code,
                    institution_code=line.institution_code,
                    institution_name=line.institution_name,
                    major_code=line.major_code,
                    major_name=line.major_name,
                    major_category=line.major_category,
                    places=line.places,
                )
                for line in page.lines
            ],
            major_category=page.major_category,
            category_known=page.category_known,
            plan_version=page.version,
            truncated=page.truncated,
        )

    # ---- candidates ----

    def GetStatus(self, request: pb.GetStatusRequest, context: grpc.ServicerContext) -> pb.GetStatusResponse:
        facts, batches = self.filling.status()
        return pb.GetStatusResponse(
            eligibility=pb.Eligibility(
                eligible=facts.eligible,
                missing=facts.missing(),
                major_category=facts.major_category,
                poverty_registered=facts.poverty_registered,
                abandoned=facts.abandoned,
            ),
            batches=[status_pb(s) for s in batches],
        )

    def GetForm(self, request: pb.GetFormRequest, context: grpc.ServicerContext) -> pb.GetFormResponse:
        form = self.filling.form(request.batch_code)
        return pb.GetFormResponse(
            status=status_pb(form.status),
            editable=form.editable,
            read_only_reason=form.read_only_reason,
            institutions=[
                pb.Institution(
                    code=i.code,
                    name=i.name,
                    majors=[pb.Major(code=m.major_code, name=m.major_name, places=m.places) for m in i.majors],
                )
                for i in form.institutions
            ],
            slots=list(SLOTS),
        )

    def SubmitPreferences(
        self, request: pb.SubmitPreferencesRequest, context: grpc.ServicerContext
    ) -> pb.SubmitPreferencesResponse:
        choices = [
            Choice(c.slot[:2], c.institution_code[:16], c.major_code[:16], c.major_institution_code[:16])
            for c in request.choices
        ]
        result = self.filling.submit(request.batch_code, request.idempotency_key[:80], choices)
        return pb.SubmitPreferencesResponse(
            errors=[pb.SlotError(slot=p.slot, field=p.field, message=p.message) for p in result.problems],
            version=version_pb(result.version) if result.version else None,
            replayed=result.replayed,
        )

    def ListVersions(self, request: pb.ListVersionsRequest, context: grpc.ServicerContext) -> pb.ListVersionsResponse:
        status, versions = self.filling.versions(request.batch_code, request.candidate_no)
        return pb.ListVersionsResponse(status=status_pb(status), versions=[version_pb(v) for v in versions])


def registrars(ctx: ServiceContext) -> list[Registrar]:
    return [
        registrar(preferences_pb2_grpc.add_PreferencesServiceServicer_to_server, PreferencesServicer(ctx), _SERVICE)
    ]
