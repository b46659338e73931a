"""Refunds: their states and the refund policy applied when a paid registration is abandoned.

    requested ──► processing ──► succeeded
        │  ▲           │
        │  └───────────┤ (the provider does not know it: ask again, same refund number)
        ▼              ▼
      failed ◄─────────┘   money did not go back: an alert for staff

A refund is always of the whole payment, at most one per order (a unique key guards it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RefundState(StrEnum):
    REQUESTED = "requested"  # decided; not yet accepted by the provider
    PROCESSING = "processing"  # accepted by the provider
    SUCCEEDED = "succeeded"  # verified: the money went back
    FAILED = "failed"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    RefundState.REQUESTED: "退款申请中",
    RefundState.PROCESSING: "退款处理中",
    RefundState.SUCCEEDED: "已退款",
    RefundState.FAILED: "退款失败",
}

PENDING_STATES: frozenset[RefundState] = frozenset({RefundState.REQUESTED, RefundState.PROCESSING})
SUCCEED_FROM: frozenset[RefundState] = PENDING_STATES
FAIL_FROM: frozenset[RefundState] = PENDING_STATES
ACCEPTED_FROM: frozenset[RefundState] = frozenset({RefundState.REQUESTED})
RESEND_FROM: frozenset[RefundState] = frozenset({RefundState.PROCESSING})

REASON_ABANDONED = "放弃报名"
REASON_DUPLICATE = "重复支付"
REASON_AFTER_ABANDON = "放弃报名后支付"


@dataclass(frozen=True)
class RefundPolicy:
    """The province's rule: refund an abandoned registration's fee or not, and until when.

    `until` (naive UTC, None: no limit) is the last moment an abandonment still gets its fee back,
    e.g. the end of the registration phase.
    """

    refund_on_abandon: bool = True
    until: datetime | None = None

    def decide(self, abandoned_at: datetime) -> tuple[bool, str]:
        """(refund?, why) for a paid registration abandoned at `abandoned_at`."""
        if not self.refund_on_abandon:
            return False, "按退费规定，放弃报名不退还报名费"
        if self.until is not None and abandoned_at > self.until:
            return False, "放弃报名时已过退费截止时间，不退还报名费"
        return True, REASON_ABANDONED
