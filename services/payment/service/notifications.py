"""The providers' asynchronous notifications: verify, match to our order, settle once, reply exactly.

Reached through the gateway's public callback and the public gRPC method HandleNotification:
the notification's signature is its only authentication. Anything that does not verify or does
not match our order is rejected with the provider's failure reply, logged, alerted, never paid.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from sqlalchemy.orm import Session

from services.payment.adapters.tables import NotificationRow
from services.payment.domain.orders import OrderState
from services.payment.providers.base import (
    Notification,
    NotificationKind,
    NotificationRejected,
    NotificationReply,
    OrderMismatch,
    Provider,
    RefundStatus,
    TradeStatus,
    UnknownOrder,
    check_against_order,
    check_refund_against,
)
from services.payment.service import audit, settlement
from services.payment.service.context import Deps
from services.payment.service.settlement import load_order, load_refund, naive

log = logging.getLogger("payment")

NOT_FOUND_REPLY = NotificationReply(404, b"not found", "text/plain")


class NotificationsService:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def handle(
        self, provider_name: str, headers: Mapping[str, str], body: bytes, remote_addr: str = ""
    ) -> NotificationReply:
        digest = hashlib.sha256(body).hexdigest()
        try:
            provider = Provider(provider_name)
            client = self.deps.clients[provider]
        except (ValueError, KeyError):
            audit.alert(
                self.deps.db,
                "unknown_provider",
                f"notification for provider {provider_name[:20]!r} (sha256 {digest[:16]})",
                remote_addr=remote_addr,
            )
            return NOT_FOUND_REPLY
        try:
            notification = client.parse_and_verify_notification(headers, body)
        except NotificationRejected as rejection:
            self._rejected(provider, rejection, None, remote_addr, digest)
            return client.failure_reply(rejection.reason)
        try:
            with self.deps.db.unit_of_work() as session:
                outcome = self._apply(session, notification)
                session.add(self._row(provider, notification, outcome, "", remote_addr, digest))
        except NotificationRejected as rejection:
            self._rejected(provider, rejection, notification, remote_addr, digest)
            return client.failure_reply(rejection.reason)
        except Exception:
            # Our fault (e.g. the database is away): not handled, so the provider sends it again.
            log.exception(
                "notification not handled", extra={"provider": provider.value, "order_no": notification.out_trade_no}
            )
            return client.failure_reply("error")
        log.info(
            "notification %s",
            outcome,
            extra={"provider": provider.value, "order_no": notification.out_trade_no, "kind": notification.kind.value},
        )
        return client.success_reply()

    def _apply(self, session: Session, n: Notification) -> str:
        """Act on a verified notification inside the transaction; 'handled', 'duplicate' or 'ignored'."""
        order = load_order(session, n.out_trade_no)
        if order is None:
            raise UnknownOrder(f"no order {n.out_trade_no}")
        if order.provider != n.provider.value:
            raise OrderMismatch(f"order {order.order_no} was made with {order.provider}, not {n.provider.value}")
        check_against_order(n, out_trade_no=order.order_no, amount_fen=order.amount_fen)
        now = self.deps.now()
        if n.kind is NotificationKind.PAYMENT:
            if n.status in (TradeStatus.PAID, TradeStatus.REFUNDED):
                done = settlement.settle_payment(
                    session,
                    order.order_no,
                    provider_trade_no=n.provider_trade_no,
                    amount_fen=order.amount_fen if n.amount_fen is None else n.amount_fen,
                    paid_at=naive(n.paid_at, now),
                    via="notify",
                    now=now,
                )
                return "handled" if done else "duplicate"
            if n.status in (TradeStatus.CLOSED, TradeStatus.FAILED):
                done = settlement.end_order(
                    session,
                    order.order_no,
                    failed=n.status is TradeStatus.FAILED,
                    reason="支付未成功" if n.status is TradeStatus.FAILED else "订单已关闭",
                    now=now,
                    announce=order.state != OrderState.CLOSING.value,
                )
                return "handled" if done else "duplicate"
            return "ignored"
        info = n.refund
        if info is None:
            raise OrderMismatch("refund notification without refund details")
        refund = load_refund(session, info.out_refund_no)
        if refund is None or refund.order_no != order.order_no:
            raise UnknownOrder(f"no refund {info.out_refund_no} of order {order.order_no}")
        check_refund_against(n, out_refund_no=refund.refund_no, refund_fen=refund.amount_fen)
        if info.status is RefundStatus.SUCCESS:
            done = settlement.settle_refund(
                session,
                refund.refund_no,
                provider_refund_id=info.provider_refund_id,
                amount_fen=info.refund_fen,
                succeeded_at=naive(info.succeeded_at, now),
                now=now,
            )
            return "handled" if done else "duplicate"
        if info.status is RefundStatus.FAILED:
            done = settlement.fail_refund(session, refund.refund_no, "渠道通知退款失败", now)
            return "handled" if done else "duplicate"
        return "ignored"

    def _row(
        self, provider: Provider, n: Notification | None, outcome: str, reason: str, remote_addr: str, digest: str
    ) -> NotificationRow:
        return NotificationRow(
            received_at=self.deps.now(),
            provider=provider.value,
            kind=n.kind.value if n else "",
            order_no=(n.out_trade_no if n else "")[:64],
            refund_no=(n.refund.out_refund_no if n and n.refund else "")[:64],
            dedup_key=(n.dedup_key if n else "")[:160],
            outcome=outcome,
            reason=reason[:40],
            remote_addr=remote_addr[:45],
            body_sha256=digest,
        )

    def _rejected(
        self,
        provider: Provider,
        rejection: NotificationRejected,
        n: Notification | None,
        remote_addr: str,
        digest: str,
    ) -> None:
        order_no = n.out_trade_no if n else ""
        audit.alert(
            self.deps.db,
            f"notification_{rejection.reason}",
            f"{rejection.message} (body sha256 {digest[:16]})",
            provider=provider.value,
            order_no=order_no,
            remote_addr=remote_addr,
        )
        try:
            with self.deps.db.unit_of_work() as session:
                session.add(self._row(provider, n, "rejected", rejection.reason, remote_addr, digest))
        except Exception:
            log.exception("could not log a rejected notification")
