"""Refunds after the decision: sent to the provider, tracked, verified (answers and notifications).

The decision itself (`settlement.request_refund`) is made in the transaction that records its
cause: 放弃报名 under the refund policy, or a second payment. The jobs then send each requested
refund (idempotent at every provider on our refund number) and query it until it is verified.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from services.payment.adapters.tables import RefundRow
from services.payment.domain.refunds import RefundState
from services.payment.providers.base import (
    Provider,
    ProviderError,
    ProviderRequestRejected,
    RefundInfo,
    RefundRequest,
    RefundStatus,
)
from services.payment.service import audit, settlement
from services.payment.service.context import Deps
from services.payment.service.settlement import aware, load_order, load_refund, naive

log = logging.getLogger("payment")


class RefundsService:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _later(self, refund: RefundRow) -> dict[str, Any]:
        """The next attempt's count and time, further apart each time."""
        backoff = self.deps.config.refund_backoff
        attempts = refund.check_attempts + 1
        return {
            "check_attempts": attempts,
            "next_check_at": self.deps.now() + timedelta(seconds=backoff[min(attempts - 1, len(backoff) - 1)]),
        }

    def _reschedule(self, refund: RefundRow, error: str = "") -> None:
        with self.deps.db.unit_of_work() as session:
            session.execute(
                update(RefundRow)
                .where(RefundRow.refund_no == refund.refund_no, RefundRow.state == refund.state)
                .values(**self._later(refund), last_error=error[:200])
                .execution_options(synchronize_session=False)
            )

    def advance(self, refund_no: str) -> RefundRow | None:
        """One step of a pending refund: send it (requested) or ask about it (processing)."""
        with self.deps.db.unit_of_work() as session:
            refund = load_refund(session, refund_no)
            order = load_order(session, refund.order_no) if refund else None
        if refund is None or order is None or refund.state not in (RefundState.REQUESTED, RefundState.PROCESSING):
            return refund
        client = self.deps.clients.get(Provider(refund.provider))
        if client is None:
            self._reschedule(refund, "provider not enabled")
            return refund
        try:
            if refund.state == RefundState.REQUESTED:
                result = client.refund(
                    RefundRequest(
                        out_trade_no=order.order_no,
                        provider_trade_no=order.provider_trade_no or "",
                        out_refund_no=refund.refund_no,
                        refund_fen=refund.amount_fen,
                        total_fen=order.amount_fen,
                        reason=refund.reason,
                        notify_url=self.deps.config.notify_url(refund.provider),
                        requested_at=aware(refund.requested_at),
                    )
                )
            else:
                result = client.query_refund(
                    refund.refund_no, out_trade_no=order.order_no, requested_at=aware(refund.requested_at)
                )
        except ProviderRequestRejected as exc:
            # An authentic refusal (e.g. not enough balance): the money did not go back.
            with self.deps.db.unit_of_work() as session:
                settlement.fail_refund(
                    session, refund.refund_no, f"渠道拒绝：{exc.code or exc.message}", self.deps.now()
                )
            return self._load(refund_no)
        except ProviderError as exc:
            log.warning("refund call failed, will retry", extra={"refund_no": refund_no, "error": str(exc)})
            self._reschedule(refund, str(exc))
            return self._load(refund_no)
        self._apply(refund, result.refund)
        return self._load(refund_no)

    def _apply(self, refund: RefundRow, info: RefundInfo) -> None:
        now = self.deps.now()
        if info.out_refund_no != refund.refund_no:
            audit.alert(
                self.deps.db,
                "refund_mismatch",
                f"provider answered about refund {info.out_refund_no}, asked {refund.refund_no}",
                provider=refund.provider,
                order_no=refund.order_no,
            )
            self._reschedule(refund, "answer about another refund")
            return
        if info.status is RefundStatus.SUCCESS:
            if info.refund_fen != refund.amount_fen:
                audit.alert(
                    self.deps.db,
                    "refund_amount_mismatch",
                    f"provider says {info.refund_fen} fen refunded, ours is {refund.amount_fen} fen",
                    provider=refund.provider,
                    order_no=refund.order_no,
                )
                self._reschedule(refund, "amount mismatch")
                return
            with self.deps.db.unit_of_work() as session:
                settlement.settle_refund(
                    session,
                    refund.refund_no,
                    provider_refund_id=info.provider_refund_id,
                    amount_fen=info.refund_fen,
                    succeeded_at=naive(info.succeeded_at, now),
                    now=now,
                )
        elif info.status is RefundStatus.FAILED:
            with self.deps.db.unit_of_work() as session:
                settlement.fail_refund(session, refund.refund_no, "渠道退款失败", now)
        elif info.status is RefundStatus.NOT_FOUND and refund.state == RefundState.PROCESSING:
            # The provider does not know it (e.g. our request was lost): send it again, same number.
            with self.deps.db.unit_of_work() as session:
                session.execute(
                    update(RefundRow)
                    .where(RefundRow.refund_no == refund.refund_no, RefundRow.state == RefundState.PROCESSING.value)
                    .values(state=RefundState.REQUESTED.value, **self._later(refund), updated_at=now)
                    .execution_options(synchronize_session=False)
                )
        elif refund.state == RefundState.REQUESTED:
            later = self._later(refund)
            with self.deps.db.unit_of_work() as session:
                if not settlement.refund_accepted(
                    session, refund.refund_no, info.provider_refund_id, now, later["next_check_at"]
                ):
                    return
                session.execute(
                    update(RefundRow)
                    .where(RefundRow.refund_no == refund.refund_no)
                    .values(check_attempts=later["check_attempts"])
                    .execution_options(synchronize_session=False)
                )
        else:
            self._reschedule(refund)

    def _load(self, refund_no: str) -> RefundRow | None:
        with self.deps.db.unit_of_work() as session:
            return load_refund(session, refund_no)
