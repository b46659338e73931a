"""Reconciliation: download a provider's statement of one day, compare, report every difference.

The raw statement is kept in the private bucket `zsb-payment-statements` for audit. A payment the
provider lists that we hold as unpaid (e.g. its notification never came) is then checked with a
verified query, which settles it; every difference stays in the report either way.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from services.payment.adapters.tables import DifferenceRow, OrderRow, ReconciliationRow, RefundRow
from services.payment.domain.orders import PAID_STATES, OrderState
from services.payment.domain.reconciliation import DifferenceKind, OurOrder, OurRefund, reconcile
from services.payment.domain.refunds import RefundState
from services.payment.providers.base import NotificationKind, ProviderError, Statement
from services.payment.service import audit
from services.payment.service.context import Deps
from services.payment.service.orders import OrdersService
from services.payment.service.refunds import RefundsService
from zsb.common.clock import BEIJING, to_beijing
from zsb.common.errors import NotFound

log = logging.getLogger("payment")
SYSTEM = "system"
_CHUNK = 500


def day_window(bill_date: date) -> tuple[datetime, datetime]:
    """The Beijing day as a naive-UTC half-open interval."""
    start = datetime.combine(bill_date, time(0), BEIJING).astimezone(UTC).replace(tzinfo=None)
    return start, start + timedelta(days=1)


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(set(values))
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _beijing_date(moment: datetime | None) -> date | None:
    return to_beijing(moment).date() if moment else None


class ReconciliationService:
    def __init__(self, deps: Deps, orders: OrdersService, refunds: RefundsService) -> None:
        self.deps = deps
        self.orders = orders
        self.refunds = refunds

    def run(self, provider_name: str, bill_date: date, actor: str) -> tuple[ReconciliationRow, list[DifferenceRow]]:
        client = self.deps.client(provider_name)
        provider = client.provider.value
        started = self.deps.now()
        try:
            statement = client.download_statement(bill_date)
        except ProviderError as exc:
            log.warning("statement download failed", extra={"provider": provider, "error": str(exc)})
            with self.deps.db.unit_of_work() as session:
                run = ReconciliationRow(
                    provider=provider,
                    bill_date=bill_date,
                    status="error",
                    started_at=started,
                    actor=actor[:40],
                    statement_entries=0,
                    statement_paid_fen=0,
                    statement_refunded_fen=0,
                    our_paid_fen=0,
                    our_refunded_fen=0,
                    statement_key="",
                    error=f"对账单下载失败：{exc.message}"[:500],
                )
                session.add(run)
                audit.record(session, "reconciliation_failed", actor, f"{bill_date} {exc.message}", provider=provider)
            return run, []
        key = self._keep(provider, bill_date, statement)
        orders, refunds = self._ours(provider, bill_date, statement)
        differences, totals = reconcile(bill_date, statement.entries, orders, refunds)
        with self.deps.db.unit_of_work() as session:
            run = ReconciliationRow(
                provider=provider,
                bill_date=bill_date,
                status="differences" if differences else "matched",
                started_at=started,
                actor=actor[:40],
                statement_entries=len(statement.entries),
                statement_paid_fen=totals.statement_paid_fen,
                statement_refunded_fen=totals.statement_refunded_fen,
                our_paid_fen=totals.our_paid_fen,
                our_refunded_fen=totals.our_refunded_fen,
                statement_key=key,
                error="",
            )
            session.add(run)
            session.flush()
            rows = [
                DifferenceRow(
                    run_id=run.id,
                    kind=d.kind.value,
                    order_no=d.order_no[:64],
                    refund_no=d.refund_no[:64],
                    ours_fen=d.ours_fen,
                    theirs_fen=d.theirs_fen,
                    ours_state=d.ours_state,
                    theirs_state=d.theirs_state,
                    note="",
                )
                for d in differences
            ]
            session.add_all(rows)
            audit.record(
                session,
                "reconciliation_run",
                actor,
                f"{bill_date} 对账：{len(statement.entries)} 条，差异 {len(differences)} 处",
                provider=provider,
            )
        if differences:
            audit.alert(
                self.deps.db,
                "reconciliation_difference",
                f"{bill_date} 对账发现 {len(differences)} 处差异（对账记录 {run.id}）",
                provider=provider,
            )
        self._follow_up(rows)
        return run, rows

    def _keep(self, provider: str, bill_date: date, statement: Statement) -> str:
        digest = hashlib.sha256(statement.raw).hexdigest()
        key = f"{provider}/{bill_date:%Y%m%d}/{digest[:24]}.statement"
        try:
            self.deps.statements().put(key, statement.raw)
        except Exception:  # the report is still worth having; the log says the file is missing
            log.exception("could not keep the statement file", extra={"provider": provider})
            return ""
        return key

    def _ours(
        self, provider: str, bill_date: date, statement: Statement
    ) -> tuple[dict[str, OurOrder], dict[str, OurRefund]]:
        start, end = day_window(bill_date)
        named_orders = {e.out_trade_no for e in statement.entries if e.out_trade_no}
        named_refunds = {e.out_refund_no for e in statement.entries if e.kind is NotificationKind.REFUND}
        with self.deps.db.unit_of_work() as session:
            order_rows = list(
                session.scalars(
                    select(OrderRow).where(
                        OrderRow.provider == provider, OrderRow.paid_at >= start, OrderRow.paid_at < end
                    )
                )
            )
            for chunk in _chunks(named_orders):
                order_rows += session.scalars(select(OrderRow).where(OrderRow.order_no.in_(chunk)))
            refund_rows = list(
                session.scalars(
                    select(RefundRow).where(
                        RefundRow.provider == provider,
                        RefundRow.succeeded_at >= start,
                        RefundRow.succeeded_at < end,
                    )
                )
            )
            for chunk in _chunks(named_refunds):
                refund_rows += session.scalars(select(RefundRow).where(RefundRow.refund_no.in_(chunk)))
        orders = {
            o.order_no: OurOrder(o.order_no, o.amount_fen, OrderState(o.state), _beijing_date(o.paid_at))
            for o in order_rows
            if o.provider == provider
        }
        refunds = {
            r.refund_no: OurRefund(
                r.refund_no, r.order_no, r.amount_fen, RefundState(r.state), _beijing_date(r.succeeded_at)
            )
            for r in refund_rows
            if r.provider == provider
        }
        return orders, refunds

    def _follow_up(self, rows: list[DifferenceRow]) -> None:
        """Ask the provider about each payment or refund it lists that we do not count: verified, it settles."""
        for row in rows:
            if row.kind != DifferenceKind.STATUS_MISMATCH.value:
                continue
            try:
                if row.refund_no:
                    refund = self.refunds.advance(row.refund_no)
                    done = refund is not None and refund.state == RefundState.SUCCEEDED.value
                    note = "已按渠道查询结果补记退款" if done else "已查询渠道，退款尚未确认"
                else:
                    order = self.orders.check(row.order_no, via="reconcile", force=True)
                    done = order is not None and OrderState(order.state) in PAID_STATES
                    note = "已按渠道查询结果补记支付" if done else "已查询渠道，未确认支付"
            except ProviderError as exc:
                note = f"渠道查询失败：{exc.message}"[:200]
            with self.deps.db.unit_of_work() as session:
                stored = session.get(DifferenceRow, row.id)
                if stored is not None:
                    stored.note = note
            row.note = note

    # ------------------------------------------------------------ reading

    def list_runs(self, limit: int) -> list[tuple[ReconciliationRow, int]]:
        with self.deps.db.unit_of_work() as session:
            runs = list(
                session.scalars(
                    select(ReconciliationRow).order_by(ReconciliationRow.id.desc()).limit(min(max(limit, 1), 200))
                )
            )
            ids = [r.id for r in runs]
            counts: dict[int, int] = {}
            if ids:
                rows = session.execute(
                    select(DifferenceRow.run_id, func.count())
                    .where(DifferenceRow.run_id.in_(ids))
                    .group_by(DifferenceRow.run_id)
                ).all()
                counts = {run_id: n for run_id, n in rows}
        return [(r, counts.get(r.id, 0)) for r in runs]

    def get(self, run_id: int) -> tuple[ReconciliationRow, list[DifferenceRow]]:
        with self.deps.db.unit_of_work() as session:
            run = session.get(ReconciliationRow, run_id)
            if run is None:
                raise NotFound("对账记录不存在", reason="RUN_NOT_FOUND")
            rows = list(
                session.scalars(select(DifferenceRow).where(DifferenceRow.run_id == run_id).order_by(DifferenceRow.id))
            )
        return run, rows

    def due_daily(self, now: datetime) -> list[tuple[str, date]]:
        """(provider, day) pairs the daily job should reconcile now: yesterday, once it is past the hour."""
        at = self.deps.config.daily_at
        if at is None:
            return []
        local = to_beijing(now)
        if local.time() < at:
            return []
        yesterday = local.date() - timedelta(days=1)
        due = []
        with self.deps.db.unit_of_work() as session:
            for provider in self.deps.providers():
                runs = session.scalars(
                    select(ReconciliationRow).where(
                        ReconciliationRow.provider == provider.value, ReconciliationRow.bill_date == yesterday
                    )
                ).all()
                recent_error = any(r.status == "error" and now - r.started_at < timedelta(hours=1) for r in runs)
                if not any(r.status != "error" for r in runs) and not recent_error:
                    due.append((provider.value, yesterday))
        return due
