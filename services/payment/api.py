"""gRPC servicer of the payment service: messages in, use cases called, messages out."""

from __future__ import annotations

import json
from datetime import date, datetime

import grpc

from services.payment.adapters.tables import DifferenceRow, FeeRow, OrderRow, ReconciliationRow, RefundRow
from services.payment.domain.orders import OPEN_STATES, OrderState
from services.payment.domain.reconciliation import DifferenceKind
from services.payment.domain.refunds import RefundState
from services.payment.service import statistics
from services.payment.service.app import PaymentApp, app_for
from services.payment.service.orders import STATUS_LABELS, payment_status
from zsb.common.clock import unix
from zsb.common.errors import InvalidArgument
from zsb.common.grpc_server import Registrar, registrar
from zsb.common.principal import Role, current_principal, require_candidate, require_staff
from zsb.common.runtime import ServiceContext
from zsb.payment.v1 import payment_pb2 as pb
from zsb.payment.v1 import payment_pb2_grpc

_SERVICE = pb.DESCRIPTOR.services_by_name["PaymentService"]
# The providers' notifications carry no token: their signature is what the service verifies.
PUBLIC_METHODS = frozenset({f"/{_SERVICE.full_name}/HandleNotification"})
MAX_NOTIFICATION_BYTES = 64 * 1024


def _unix(moment: datetime | None) -> int:
    return unix(moment) if moment else 0


def order_pb(order: OrderRow, name: str = "") -> pb.Order:
    state = OrderState(order.state)
    message = pb.Order(
        order_no=order.order_no,
        candidate_no=order.candidate_no,
        provider=order.provider,
        amount_fen=order.amount_fen,
        state=state.value,
        state_label=state.label,
        created_at=_unix(order.created_at),
        expires_at=_unix(order.expires_at),
        paid_at=_unix(order.paid_at),
        provider_txn_id=order.provider_trade_no or "",
        duplicate=order.duplicate,
        paid_via=order.paid_via,
        candidate_name=name,
    )
    if state in (OrderState.CREATED, OrderState.PAYING) and order.action_kind:
        fields = json.loads(order.action_fields) if order.action_fields else {}
        message.action.CopyFrom(pb.PaymentAction(kind=order.action_kind, url=order.action_url, form_fields=fields))
    return message


def refund_pb(refund: RefundRow) -> pb.Refund:
    state = RefundState(refund.state)
    return pb.Refund(
        refund_no=refund.refund_no,
        order_no=refund.order_no,
        amount_fen=refund.amount_fen,
        state=state.value,
        state_label=state.label,
        reason=refund.reason,
        requested_at=_unix(refund.requested_at),
        succeeded_at=_unix(refund.succeeded_at),
    )


def fee_pb(fee: FeeRow) -> pb.Fee:
    return pb.Fee(
        category_code=fee.category_code,
        category_name=fee.category_name,
        amount_fen=fee.amount_fen,
        updated_at=_unix(fee.updated_at),
        updated_by=fee.updated_by,
    )


def difference_pb(row: DifferenceRow) -> pb.Difference:
    return pb.Difference(
        kind=row.kind,
        kind_label=DifferenceKind(row.kind).label,
        order_no=row.order_no,
        refund_no=row.refund_no,
        ours_fen=-1 if row.ours_fen is None else row.ours_fen,
        theirs_fen=-1 if row.theirs_fen is None else row.theirs_fen,
        ours_state=row.ours_state,
        theirs_state=row.theirs_state,
        note=row.note,
    )


def run_pb(run: ReconciliationRow, differences: list[DifferenceRow] | None = None, count: int = 0) -> pb.Reconciliation:
    return pb.Reconciliation(
        id=run.id,
        provider=run.provider,
        bill_date=run.bill_date.isoformat(),
        status=run.status,
        started_at=_unix(run.started_at),
        actor=run.actor,
        statement_entries=run.statement_entries,
        statement_paid_fen=run.statement_paid_fen,
        statement_refunded_fen=run.statement_refunded_fen,
        our_paid_fen=run.our_paid_fen,
        our_refunded_fen=run.our_refunded_fen,
        differences=[difference_pb(d) for d in differences or []],
        error=run.error,
        difference_count=len(differences) if differences is not None else count,
    )


class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self, app: PaymentApp) -> None:
        self.app = app

    # ------------------------------------------------------------ the candidate

    def GetPayment(self, request: pb.GetPaymentRequest, context: grpc.ServicerContext) -> pb.PaymentOverview:
        require_candidate(request.candidate_no)
        view = self.app.orders.overview(request.candidate_no)
        overview = pb.PaymentOverview(
            candidate_no=request.candidate_no,
            can_pay=not view.blocked_reason,
            blocked_reason=view.blocked_reason,
            category_code=view.candidate.category_code if view.candidate else "",
            category_name=view.fee.category_name if view.fee else "",
            amount_fen=view.fee.amount_fen if view.fee else 0,
            status=view.status,
            status_label=STATUS_LABELS[view.status],
            orders=[order_pb(o) for o in view.orders],
            refunds=[refund_pb(r) for r in view.refunds],
            providers=[p.value for p in self.app.deps.providers()],
        )
        if view.current is not None and OrderState(view.current.state) in OPEN_STATES:
            overview.current.CopyFrom(order_pb(view.current))
        if view.paid is not None:
            overview.paid.CopyFrom(order_pb(view.paid))
            overview.amount_fen = view.paid.amount_fen  # what was paid, even if the schedule changed since
        return overview

    def StartPayment(self, request: pb.StartPaymentRequest, context: grpc.ServicerContext) -> pb.Order:
        require_candidate(request.candidate_no)
        return order_pb(self.app.orders.start(request.candidate_no, request.provider))

    def CheckPayment(self, request: pb.CheckPaymentRequest, context: grpc.ServicerContext) -> pb.CheckPaymentResponse:
        require_candidate(request.candidate_no)
        order = self.app.orders.check_for_candidate(request.candidate_no, request.order_no[:32], request.ask_provider)
        view = self.app.orders.overview(request.candidate_no)
        status = payment_status(view.paid, view.current)
        return pb.CheckPaymentResponse(order=order_pb(order), status=status, status_label=STATUS_LABELS[status])

    # ------------------------------------------------------------ providers

    def HandleNotification(self, request: pb.ProviderNotification, context: grpc.ServicerContext) -> pb.ProviderReply:
        if len(request.body) > MAX_NOTIFICATION_BYTES:
            raise InvalidArgument("notification too large")
        reply = self.app.notifications.handle(
            request.provider[:20], dict(request.headers), bytes(request.body), request.remote_addr[:45]
        )
        return pb.ProviderReply(status=reply.status, body=reply.body, content_type=reply.content_type)

    # ------------------------------------------------------------ staff

    def ListFees(self, request: pb.ListFeesRequest, context: grpc.ServicerContext) -> pb.ListFeesResponse:
        current_principal()
        return pb.ListFeesResponse(fees=[fee_pb(f) for f in self.app.fees.list()])

    def SetFee(self, request: pb.SetFeeRequest, context: grpc.ServicerContext) -> pb.Fee:
        actor = require_staff(Role.PROVINCE)
        return fee_pb(
            self.app.fees.set(actor.subject, request.category_code, request.category_name, request.amount_fen)
        )

    def ListOrders(self, request: pb.ListOrdersRequest, context: grpc.ServicerContext) -> pb.ListOrdersResponse:
        principal = require_staff()
        rows, refunds = self.app.orders.list_for_staff(
            principal, request.candidate_no.strip()[:14], request.state.strip()[:12], request.limit or 100
        )
        return pb.ListOrdersResponse(
            orders=[order_pb(o, name) for o, name in rows], refunds=[refund_pb(r) for r in refunds]
        )

    def Reconcile(self, request: pb.ReconcileRequest, context: grpc.ServicerContext) -> pb.Reconciliation:
        actor = require_staff(Role.PROVINCE)
        try:
            bill_date = date.fromisoformat(request.bill_date.strip())
        except ValueError:
            raise InvalidArgument("对账日期格式应为 YYYY-MM-DD", field="bill_date") from None
        run, rows = self.app.reconciliation.run(request.provider, bill_date, actor.subject)
        return run_pb(run, rows)

    def ListReconciliations(
        self, request: pb.ListReconciliationsRequest, context: grpc.ServicerContext
    ) -> pb.ListReconciliationsResponse:
        require_staff(Role.PROVINCE)
        runs = self.app.reconciliation.list_runs(request.limit or 50)
        return pb.ListReconciliationsResponse(runs=[run_pb(r, None, n) for r, n in runs])

    def GetReconciliation(
        self, request: pb.GetReconciliationRequest, context: grpc.ServicerContext
    ) -> pb.Reconciliation:
        require_staff(Role.PROVINCE)
        run, rows = self.app.reconciliation.get(request.id)
        return run_pb(run, rows)

    def ListAlerts(self, request: pb.ListAlertsRequest, context: grpc.ServicerContext) -> pb.ListAlertsResponse:
        require_staff(Role.PROVINCE)
        rows = self.app.audit_rows(request.kind.strip()[:40], request.limit or 200)
        return pb.ListAlertsResponse(
            alerts=[
                pb.Alert(
                    id=r.id,
                    at=_unix(r.at),
                    level=r.level,
                    kind=r.kind,
                    provider=r.provider,
                    order_no=r.order_no,
                    actor=r.actor,
                    remote_addr=r.remote_addr,
                    detail=r.detail,
                )
                for r in rows
            ]
        )

    def GetPaymentStats(self, request: pb.GetPaymentStatsRequest, context: grpc.ServicerContext) -> pb.PaymentStats:
        rows = statistics.paid_by_city(self.app.deps.db, require_staff())
        return pb.PaymentStats(by_city=[pb.PaidByCity(city_code=c, paid=n, amount_fen=a) for c, n, a in rows])


def registrars(ctx: ServiceContext) -> list[Registrar]:
    return [registrar(payment_pb2_grpc.add_PaymentServiceServicer_to_server, PaymentServicer(app_for(ctx)), _SERVICE)]


__all__ = ["PUBLIC_METHODS", "PaymentServicer", "registrars"]
