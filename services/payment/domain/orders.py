"""Payment orders: the state machine, who may pay, order numbers, the query back-off.

An order is one provider order of ours (one out_trade_no). A candidate has at most one open
order at a time; a new attempt closes (or supersedes) the open one and makes a new order with a
new number, and every old order stays as history. Pure rules: no I/O, times are naive UTC.

    created ──► paying ──► paid ──► refunding ──► refunded
       │           │         ▲          │
       │           ▼         │          └──► paid (the refund failed: money stayed with us)
       ├──────► closing ─────┤
       ▼           ▼         │
     failed     closed ──────┘  a verified payment is real money, whatever we believed before

`closing`: superseded or expired, to be closed at the provider once it can no longer be paid
(UnionPay orders and unopened Alipay page orders stay payable until their expiry).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from zsb.common.clock import to_beijing
from zsb.common.errors import FailedPrecondition


class OrderState(StrEnum):
    CREATED = "created"  # our row exists; the provider order may not (its answer did not come back)
    PAYING = "paying"  # the provider order exists and its QR/page/form was handed to the payer
    CLOSING = "closing"  # superseded or expired: to close at the provider when it can no longer be paid
    PAID = "paid"
    CLOSED = "closed"
    FAILED = "failed"
    REFUNDING = "refunding"
    REFUNDED = "refunded"

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = {
    OrderState.CREATED: "待支付",
    OrderState.PAYING: "待支付",
    OrderState.CLOSING: "正在关闭",
    OrderState.PAID: "已支付",
    OrderState.CLOSED: "已关闭",
    OrderState.FAILED: "支付失败",
    OrderState.REFUNDING: "退款中",
    OrderState.REFUNDED: "已退款",
}

# States from which each transition may start (the conditional UPDATEs use exactly these sets).
OPEN_STATES: frozenset[OrderState] = frozenset({OrderState.CREATED, OrderState.PAYING, OrderState.CLOSING})
# A verified payment settles any order that is not already paid: closed or failed orders included,
# because the provider's verified fact beats our belief (e.g. paid in the moment we closed it).
PAYABLE_FROM: frozenset[OrderState] = OPEN_STATES | {OrderState.CLOSED, OrderState.FAILED}
PAID_STATES: frozenset[OrderState] = frozenset({OrderState.PAID, OrderState.REFUNDING, OrderState.REFUNDED})
HANDED_OUT_FROM: frozenset[OrderState] = frozenset({OrderState.CREATED})
CLOSE_FROM: frozenset[OrderState] = OPEN_STATES
FAIL_FROM: frozenset[OrderState] = OPEN_STATES
SUPERSEDE_FROM: frozenset[OrderState] = frozenset({OrderState.CREATED, OrderState.PAYING})
REFUND_FROM: frozenset[OrderState] = frozenset({OrderState.PAID})
REFUNDED_FROM: frozenset[OrderState] = frozenset({OrderState.REFUNDING})
REFUND_FAILED_FROM: frozenset[OrderState] = frozenset({OrderState.REFUNDING})

_TRANSITIONS: dict[str, frozenset[OrderState]] = {
    "hand_out": HANDED_OUT_FROM,
    "pay": PAYABLE_FROM,
    "supersede": SUPERSEDE_FROM,
    "close": CLOSE_FROM,
    "fail": FAIL_FROM,
    "refund": REFUND_FROM,
    "refunded": REFUNDED_FROM,
    "refund_failed": REFUND_FAILED_FROM,
}
_TARGET = {
    "hand_out": OrderState.PAYING,
    "pay": OrderState.PAID,
    "supersede": OrderState.CLOSING,
    "close": OrderState.CLOSED,
    "fail": OrderState.FAILED,
    "refund": OrderState.REFUNDING,
    "refunded": OrderState.REFUNDED,
    "refund_failed": OrderState.PAID,
}


def allowed_from(transition: str) -> frozenset[OrderState]:
    """The states a transition may start from (for the guard of a conditional UPDATE)."""
    return _TRANSITIONS[transition]


def target(transition_name: str) -> OrderState:
    """The state a transition leads to."""
    return _TARGET[transition_name]


def transition(state: OrderState, name: str) -> OrderState:
    """The state after `name`, or FailedPrecondition when the order cannot make that move."""
    if state not in _TRANSITIONS[name]:
        raise FailedPrecondition(f"订单状态为“{state.label}”，不能执行该操作", reason="ORDER_STATE")
    return _TARGET[name]


# ---------------------------------------------------------------- who may pay


@dataclass(frozen=True)
class CandidateFacts:
    """What the payment service knows of a candidate, from identity and registration events."""

    identity_verified: bool
    confirmed: bool
    abandoned: bool
    paid: bool


def check_can_pay(facts: CandidateFacts | None) -> None:
    """立即支付 is possible only after 信息确认 and 身份认证, before payment, while registered."""
    if facts is None or not facts.confirmed:
        raise FailedPrecondition("请先完成“信息确认”", reason="NOT_CONFIRMED")
    if facts.abandoned:
        raise FailedPrecondition("您已放弃报名，不能支付", reason="ABANDONED")
    if not facts.identity_verified:
        raise FailedPrecondition("请先完成“身份认证”", reason="IDENTITY_NOT_VERIFIED")
    if facts.paid:
        raise FailedPrecondition("您已完成网上支付，无需重复支付", reason="ALREADY_PAID")


def blocked_reason(facts: CandidateFacts | None) -> str:
    try:
        check_can_pay(facts)
    except FailedPrecondition as err:
        return err.message
    return ""


# ---------------------------------------------------------------- numbers and times


def new_number(prefix: str, now: datetime) -> str:
    """An order or refund number: prefix + Beijing date + 12 random hex digits (8-32 alphanumerics)."""
    return f"{prefix}{to_beijing(now):%Y%m%d}{secrets.token_hex(6).upper()}"


def can_reuse(state: OrderState, expires_at: datetime, now: datetime, margin: timedelta) -> bool:
    """A repeated 立即支付 with the same provider shows the same QR/page while it is good for a while."""
    return state is OrderState.PAYING and now + margin < expires_at


def next_check(
    attempts: int, now: datetime, expires_at: datetime, backoff: Sequence[int], close_grace: timedelta
) -> datetime:
    """When to query an open order again: the back-off, but never later than just after its expiry."""
    delay = timedelta(seconds=backoff[min(attempts, len(backoff) - 1)])
    after_expiry = expires_at + close_grace
    candidate = now + delay
    if now < after_expiry:
        return min(candidate, after_expiry)
    return candidate


def is_expired(expires_at: datetime, now: datetime, close_grace: timedelta) -> bool:
    """Past expiry plus a grace for clock differences: the provider can no longer take the payment."""
    return now >= expires_at + close_grace
