"""The candidate's payment: overview, 立即支付 (a provider order), checks and queries of open orders.

Provider calls never run inside a database transaction: a transaction records the intent first
(the order row, the open-order guard), the call follows, another transaction records the answer.
A crash between them leaves an open order that the jobs query and close.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from services.payment.adapters.tables import CandidateRow, FeeRow, OrderRow, RefundRow, calendar_phases
from services.payment.domain import orders as rules
from services.payment.domain.orders import OPEN_STATES, CandidateFacts, OrderState
from services.payment.providers.base import (
    CloseOutcome,
    PaymentRequest,
    Provider,
    ProviderClient,
    ProviderError,
    ProviderRequestRejected,
    TradeStatus,
)
from services.payment.service import audit, settlement
from services.payment.service.context import Deps
from services.payment.service.settlement import aware, load_candidate, load_order, naive
from zsb.common.calendar import Phase, require_open
from zsb.common.errors import FailedPrecondition, NotFound, PermissionDenied
from zsb.common.principal import Principal, Role

log = logging.getLogger("payment")

# Providers whose close makes an existing order unpayable at once (UnionPay orders only lapse).
_CLOSABLE = frozenset({Provider.WECHAT, Provider.ALIPAY})
REASON_EXPIRED = "支付超时，订单已关闭"
REASON_SWITCHED = "已重新发起支付"
# A 'created' order younger than this may still be on its way to the provider in 立即支付 (the
# provider call, with its timeouts, happens after the row is written): the jobs must not close it.
HAND_OUT_WINDOW = timedelta(minutes=1)


def facts_of(candidate: CandidateRow | None) -> CandidateFacts | None:
    if candidate is None:
        return None
    return CandidateFacts(
        identity_verified=candidate.identity_verified_at is not None,
        confirmed=candidate.confirmed_at is not None,
        abandoned=candidate.abandoned_at is not None,
        paid=candidate.paid_order_no is not None,
    )


@dataclass
class Overview:
    candidate_no: str
    candidate: CandidateRow | None
    fee: FeeRow | None
    blocked_reason: str
    status: str
    current: OrderRow | None
    paid: OrderRow | None
    orders: list[OrderRow] = field(default_factory=list)
    refunds: list[RefundRow] = field(default_factory=list)


STATUS_LABELS = {"unpaid": "未支付", "paying": "待支付", "paid": "已支付", "refunding": "退款中", "refunded": "已退款"}


def payment_status(paid: OrderRow | None, current: OrderRow | None) -> str:
    if paid is not None:
        return {OrderState.REFUNDING.value: "refunding", OrderState.REFUNDED.value: "refunded"}.get(paid.state, "paid")
    return "paying" if current is not None and current.state == OrderState.PAYING.value else "unpaid"


class OrdersService:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # ------------------------------------------------------------ reading

    def overview(self, candidate_no: str) -> Overview:
        with self.deps.db.unit_of_work() as session:
            candidate = load_candidate(session, candidate_no)
            fee = session.get(FeeRow, candidate.category_code) if candidate and candidate.category_code else None
            orders = list(
                session.scalars(
                    select(OrderRow).where(OrderRow.candidate_no == candidate_no).order_by(OrderRow.created_us.desc())
                )
            )
            refunds = list(
                session.scalars(
                    select(RefundRow)
                    .where(RefundRow.candidate_no == candidate_no)
                    .order_by(RefundRow.requested_at.desc())
                )
            )
        by_no = {o.order_no: o for o in orders}
        current = by_no.get(candidate.open_order_no or "") if candidate else None
        paid = by_no.get(candidate.paid_order_no or "") if candidate else None
        blocked = rules.blocked_reason(facts_of(candidate))
        if not blocked and fee is None:
            blocked = "尚未设置您所属考生类别的报名费，请联系省招生考试管理中心"
        if not blocked and not self.deps.clients:
            blocked = "网上支付暂未开通"
        return Overview(
            candidate_no, candidate, fee, blocked, payment_status(paid, current), current, paid, orders, refunds
        )

    def order_of(self, candidate_no: str, order_no: str) -> OrderRow:
        """A candidate's own order; another candidate's is refused exactly like a missing one."""
        with self.deps.db.unit_of_work() as session:
            order = load_order(session, order_no)
        if order is None or order.candidate_no != candidate_no:
            raise NotFound("订单不存在", reason="ORDER_NOT_FOUND", field="order_no")
        return order

    # ------------------------------------------------------------ 立即支付

    def start(self, candidate_no: str, provider_name: str) -> OrderRow:
        """A provider order the candidate can pay now (the open one again when it is still good)."""
        client = self.deps.client(provider_name)
        provider = client.provider
        now = self.deps.now()
        with self.deps.db.unit_of_work() as session:
            candidate = load_candidate(session, candidate_no)
            rules.check_can_pay(facts_of(candidate))
            assert candidate is not None
            require_open(session, calendar_phases, Phase.PAYMENT, now)
            open_order = load_order(session, candidate.open_order_no) if candidate.open_order_no else None
        if open_order is not None:
            if open_order.provider == provider.value and rules.can_reuse(
                OrderState(open_order.state), open_order.expires_at, now, self.deps.config.reuse_margin
            ):
                return open_order
            self._retire(open_order)

        now = self.deps.now()
        with self.deps.db.unit_of_work() as session:
            candidate = load_candidate(session, candidate_no)
            rules.check_can_pay(facts_of(candidate))
            assert candidate is not None
            fee = session.get(FeeRow, candidate.category_code)
            if fee is None:
                raise FailedPrecondition(
                    "尚未设置您所属考生类别的报名费，请联系省招生考试管理中心", reason="FEE_NOT_SET"
                )
            order_no = rules.new_number("ZSB", now)
            claimed = session.execute(
                update(CandidateRow)
                .where(
                    CandidateRow.candidate_no == candidate_no,
                    CandidateRow.open_order_no.is_(None),
                    CandidateRow.paid_order_no.is_(None),
                )
                .values(open_order_no=order_no, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                raise FailedPrecondition("您有一笔支付正在处理，请刷新页面后重试", reason="PAYMENT_IN_PROGRESS")
            expires_at = now + self.deps.config.order_ttl
            order = OrderRow(
                order_no=order_no,
                candidate_no=candidate_no,
                provider=provider.value,
                amount_fen=fee.amount_fen,
                category_code=fee.category_code,
                description=self.deps.config.description[:64],
                state=OrderState.CREATED.value,
                created_at=now,
                created_us=time.time_ns() // 1000,
                expires_at=expires_at,
                action_kind="",
                action_url="",
                action_fields="",
                paid_via="",
                duplicate=False,
                end_reason="",
                next_check_at=rules.next_check(
                    0, now, expires_at, self.deps.config.query_backoff, self.deps.config.close_grace
                ),
                check_attempts=0,
                updated_at=now,
            )
            session.add(order)
        request = PaymentRequest(
            out_trade_no=order_no,
            amount_fen=order.amount_fen,
            description=order.description,
            notify_url=self.deps.config.notify_url(provider.value),
            expires_at=aware(order.expires_at),
            created_at=aware(order.created_at),
            return_url=self.deps.config.return_url(),
        )
        try:
            action = client.create_payment(request)
        except ProviderRequestRejected as exc:
            log.warning("provider refused the order", extra={"order_no": order_no, "code": exc.code})
            with self.deps.db.unit_of_work() as session:
                # Refused before anything was shown: the page says so; the registration step stays as it was.
                settlement.end_order(
                    session,
                    order_no,
                    failed=True,
                    reason=f"支付渠道未受理（{exc.code}）",
                    now=self.deps.now(),
                    announce=False,
                )
            raise FailedPrecondition(
                "支付渠道暂时无法受理该订单，请稍后再试或选择其他支付方式", reason="PROVIDER_REJECTED"
            ) from exc
        except ProviderError as exc:
            # No answer: the provider may hold the order, but no one has its QR or page. Retire it;
            # the jobs close it at the provider.
            log.warning("provider did not answer the order", extra={"order_no": order_no, "error": str(exc)})
            with self.deps.db.unit_of_work() as session:
                settlement.supersede(
                    session, order_no, reason="渠道无应答", check_at=self.deps.now(), now=self.deps.now()
                )
            raise FailedPrecondition(
                "支付渠道暂时无法连接，请稍后再试或选择其他支付方式", reason="PROVIDER_UNAVAILABLE"
            ) from exc
        with self.deps.db.unit_of_work() as session:
            session.execute(
                update(OrderRow)
                .where(
                    OrderRow.order_no == order_no, OrderRow.state.in_([s.value for s in rules.allowed_from("hand_out")])
                )
                .values(
                    state=OrderState.PAYING.value,
                    action_kind=action.kind,
                    action_url=action.url,
                    action_fields=json.dumps(dict(action.form_fields), ensure_ascii=False)
                    if action.form_fields
                    else "",
                    updated_at=self.deps.now(),
                )
                .execution_options(synchronize_session=False)
            )
            fresh = load_order(session, order_no)
        assert fresh is not None
        return fresh

    def _retire(self, order: OrderRow) -> None:
        """Take the open order out of use before a new attempt: closed at once where the provider
        can do that, otherwise kept as 'closing' until it can no longer be paid."""
        provider = Provider(order.provider)
        client = self.deps.clients.get(provider)
        handed_out = order.state == OrderState.PAYING.value and bool(order.action_kind)
        outcome: CloseOutcome | None = None
        if client is not None and handed_out and provider in _CLOSABLE:
            try:
                outcome = client.close(order.order_no, created_at=aware(order.created_at))
            except ProviderError as exc:
                log.warning("close before a new attempt failed", extra={"order_no": order.order_no, "error": str(exc)})
        if outcome is CloseOutcome.ALREADY_PAID:
            self.check(order.order_no, via="query")
            raise FailedPrecondition("该订单已支付成功，请刷新页面查看", reason="ALREADY_PAID")
        now = self.deps.now()
        with self.deps.db.unit_of_work() as session:
            if outcome is CloseOutcome.CLOSED:
                settlement.end_order(
                    session, order.order_no, failed=False, reason=REASON_SWITCHED, now=now, announce=False
                )
            else:
                check_at = order.expires_at + self.deps.config.close_grace if handed_out else now
                settlement.supersede(session, order.order_no, reason=REASON_SWITCHED, check_at=check_at, now=now)

    # ------------------------------------------------------------ checking with the provider

    def check_for_candidate(self, candidate_no: str, order_no: str, ask_provider: bool) -> OrderRow:
        """The page's poll: our state, and (at most every few seconds) the provider's verified answer."""
        order = self.order_of(candidate_no, order_no)
        if ask_provider and order.state in OPEN_STATES:
            last = order.last_queried_at
            if last is None or (self.deps.now() - last).total_seconds() >= self.deps.config.check_min_interval_seconds:
                try:
                    self.check(order_no, via="query")
                except ProviderError as exc:
                    log.warning(
                        "query on the candidate's request failed", extra={"order_no": order_no, "error": str(exc)}
                    )
            order = self.order_of(candidate_no, order_no)
        return order

    def check(self, order_no: str, *, via: str = "query", force: bool = False) -> OrderRow | None:
        """Ask the provider about an order and act on its verified answer (raises ProviderError).

        Open orders are paid, closed or rescheduled; with `force` (reconciliation) a closed or
        failed order is asked too, because a verified payment of it is still real money.
        """
        with self.deps.db.unit_of_work() as session:
            order = load_order(session, order_no)
        if order is None:
            return None
        state = OrderState(order.state)
        if state not in OPEN_STATES and not (force and state in (OrderState.CLOSED, OrderState.FAILED)):
            return order
        client = self.deps.clients.get(Provider(order.provider))
        if client is None:
            return order
        now = self.deps.now()
        with self.deps.db.unit_of_work() as session:
            session.execute(
                update(OrderRow)
                .where(OrderRow.order_no == order_no)
                .values(last_queried_at=now)
                .execution_options(synchronize_session=False)
            )
        answer = client.query(order_no, created_at=aware(order.created_at))
        if answer.status in (TradeStatus.PAID, TradeStatus.REFUNDED):
            self._settle_from_query(order, answer.amount_fen, answer.provider_trade_no, answer.paid_at, via)
        elif answer.status in (TradeStatus.CLOSED, TradeStatus.FAILED) and state in OPEN_STATES:
            with self.deps.db.unit_of_work() as session:
                settlement.end_order(
                    session,
                    order_no,
                    failed=answer.status is TradeStatus.FAILED,
                    reason="支付未成功"
                    if answer.status is TradeStatus.FAILED
                    else (order.end_reason or REASON_EXPIRED),
                    now=self.deps.now(),
                    announce=state is not OrderState.CLOSING,
                )
        elif state in OPEN_STATES:
            self._not_paid_yet(order, client)
        with self.deps.db.unit_of_work() as session:
            return load_order(session, order_no)

    def _settle_from_query(
        self, order: OrderRow, amount_fen: int | None, provider_trade_no: str, paid_at: datetime | None, via: str
    ) -> None:
        if amount_fen is not None and amount_fen != order.amount_fen:
            audit.alert(
                self.deps.db,
                "amount_mismatch",
                f"query says {amount_fen} fen, our order is {order.amount_fen} fen: not settled",
                provider=order.provider,
                order_no=order.order_no,
            )
            return
        now = self.deps.now()
        with self.deps.db.unit_of_work() as session:
            settlement.settle_payment(
                session,
                order.order_no,
                provider_trade_no=provider_trade_no,
                amount_fen=order.amount_fen,
                paid_at=naive(paid_at, now),
                via=via,
                now=now,
            )

    def _not_paid_yet(self, order: OrderRow, client: ProviderClient) -> None:
        now = self.deps.now()
        config = self.deps.config
        # Decide on the row as it is now: 立即支付 may have handed the order out during the query.
        with self.deps.db.unit_of_work() as session:
            order = load_order(session, order.order_no) or order
        if OrderState(order.state) not in OPEN_STATES:
            return
        handed_out = bool(order.action_kind)
        in_flight = order.state == OrderState.CREATED.value and now - order.created_at < HAND_OUT_WINDOW
        if (handed_out or in_flight) and not rules.is_expired(order.expires_at, now, config.close_grace):
            with self.deps.db.unit_of_work() as session:
                session.execute(
                    update(OrderRow)
                    .where(OrderRow.order_no == order.order_no, OrderRow.state == order.state)
                    .values(
                        check_attempts=OrderRow.check_attempts + 1,
                        next_check_at=rules.next_check(
                            order.check_attempts + 1, now, order.expires_at, config.query_backoff, config.close_grace
                        ),
                    )
                    .execution_options(synchronize_session=False)
                )
            return
        # It can no longer be paid (expired, or never shown to anyone): close it at the provider.
        outcome = client.close(order.order_no, created_at=aware(order.created_at))
        if outcome is CloseOutcome.ALREADY_PAID:
            answer = client.query(order.order_no, created_at=aware(order.created_at))
            if answer.status in (TradeStatus.PAID, TradeStatus.REFUNDED):
                self._settle_from_query(order, answer.amount_fen, answer.provider_trade_no, answer.paid_at, "query")
            return
        superseded = order.state == OrderState.CLOSING.value
        with self.deps.db.unit_of_work() as session:
            settlement.end_order(
                session,
                order.order_no,
                failed=False,
                reason=order.end_reason if superseded and order.end_reason else REASON_EXPIRED,
                now=now,
                announce=not superseded,
            )

    def reschedule_after_error(self, order_no: str) -> None:
        """The provider did not answer: try again later, further apart each time."""
        now = self.deps.now()
        with self.deps.db.unit_of_work() as session:
            order = load_order(session, order_no)
            if order is None or order.state not in OPEN_STATES:
                return
            attempts = order.check_attempts + 1
            backoff = self.deps.config.query_backoff
            order.check_attempts = attempts
            order.next_check_at = now + timedelta(seconds=backoff[min(attempts, len(backoff) - 1)])

    # ------------------------------------------------------------ staff

    def list_for_staff(
        self, principal: Principal, candidate_no: str, state: str, limit: int
    ) -> tuple[list[tuple[OrderRow, str]], list[RefundRow]]:
        """Orders in the staff member's scope (province: all; city, point: their candidates)."""
        if principal.role is Role.REVIEWER:
            raise PermissionDenied("无权查看缴费订单", reason="ROLE_REQUIRED")
        query = select(OrderRow, CandidateRow.name).join(
            CandidateRow, CandidateRow.candidate_no == OrderRow.candidate_no, isouter=True
        )
        if principal.role is Role.CITY:
            query = query.where(CandidateRow.city_code == principal.city_code)
        elif principal.role is Role.POINT:
            query = query.where(CandidateRow.point_code == principal.point_code)
        if candidate_no:
            query = query.where(OrderRow.candidate_no == candidate_no)
        if state:
            query = query.where(OrderRow.state == state)
        query = query.order_by(OrderRow.created_us.desc()).limit(min(max(limit, 1), 500))
        with self.deps.db.unit_of_work() as session:
            rows = session.execute(query).all()
            numbers = [r[0].order_no for r in rows]
            refunds = list(session.scalars(select(RefundRow).where(RefundRow.order_no.in_(numbers)))) if numbers else []
        return [(order, name or "") for order, name in rows], refunds
