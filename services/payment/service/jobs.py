"""The payment service's background work, one pass at a time (`run_once`) so that tests drive it.

- open orders whose check is due: query the provider (verified), settle, close after expiry,
  or ask again later with back-off — for payments whose notification never came;
- pending refunds: send, then query until verified;
- the daily reconciliation of yesterday's statements.

Several replicas may run it: each due row is claimed with a conditional UPDATE of its
next_check_at, so one replica works on it at a time (and the money transitions are guarded anyway).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from services.payment.adapters.tables import OrderRow, RefundRow
from services.payment.domain.orders import OPEN_STATES
from services.payment.domain.refunds import PENDING_STATES
from services.payment.providers.base import ProviderError
from services.payment.service.context import Deps
from services.payment.service.orders import OrdersService
from services.payment.service.reconciliation import SYSTEM, ReconciliationService
from services.payment.service.refunds import RefundsService

log = logging.getLogger("payment.jobs")
LEASE = timedelta(minutes=2)  # a claimed row is retried by another replica if this one dies
BATCH = 50


@dataclass
class PassResult:
    orders_checked: int = 0
    refunds_advanced: int = 0
    reconciliations: int = 0


class PaymentJobs:
    def __init__(
        self, deps: Deps, orders: OrdersService, refunds: RefundsService, reconciliation: ReconciliationService
    ) -> None:
        self.deps = deps
        self.orders = orders
        self.refunds = refunds
        self.reconciliation = reconciliation

    def _claim(self, table: type[OrderRow] | type[RefundRow], key: str, seen: datetime | None, now: datetime) -> bool:
        column = table.order_no if table is OrderRow else table.refund_no  # type: ignore[union-attr]
        condition = table.next_check_at.is_(None) if seen is None else table.next_check_at == seen
        with self.deps.db.unit_of_work() as session:
            return (
                session.execute(
                    update(table)
                    .where(column == key, condition)
                    .values(next_check_at=now + LEASE)
                    .execution_options(synchronize_session=False)
                ).rowcount
                == 1
            )

    def run_once(self, now: datetime | None = None) -> PassResult:
        now = now or self.deps.now()
        result = PassResult()
        with self.deps.db.unit_of_work() as session:
            due_orders = session.execute(
                select(OrderRow.order_no, OrderRow.next_check_at)
                .where(OrderRow.state.in_([s.value for s in OPEN_STATES]), OrderRow.next_check_at <= now)
                .order_by(OrderRow.next_check_at)
                .limit(BATCH)
            ).all()
            due_refunds = session.execute(
                select(RefundRow.refund_no, RefundRow.next_check_at)
                .where(RefundRow.state.in_([s.value for s in PENDING_STATES]), RefundRow.next_check_at <= now)
                .order_by(RefundRow.next_check_at)
                .limit(BATCH)
            ).all()
        for order_no, seen in due_orders:
            if not self._claim(OrderRow, order_no, seen, now):
                continue
            try:
                self.orders.check(order_no, via="query")
            except ProviderError as exc:
                log.warning("order query failed, will retry", extra={"order_no": order_no, "error": str(exc)})
                self.orders.reschedule_after_error(order_no)
            result.orders_checked += 1
        for refund_no, seen in due_refunds:
            if not self._claim(RefundRow, refund_no, seen, now):
                continue
            self.refunds.advance(refund_no)
            result.refunds_advanced += 1
        for provider, day in self.reconciliation.due_daily(now):
            self.reconciliation.run(provider, day, SYSTEM)
            result.reconciliations += 1
        return result

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set; a failing pass is logged and the next one comes anyway."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("payment jobs pass failed")
            stop.wait(self.deps.config.jobs_interval_seconds)
