"""Reconciliation: the provider's statement of one day against our records, every difference named.

Pure: the caller loads our orders and refunds (those settled that day, and those the statement
mentions) and the parsed statement; `reconcile` lists what does not agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.payment.domain.orders import PAID_STATES, OrderState
from services.payment.domain.refunds import RefundState
from services.payment.providers.base import NotificationKind, StatementEntry


class DifferenceKind(StrEnum):
    MISSING_OURS = "missing_ours"  # the provider has it, we do not
    MISSING_THEIRS = "missing_theirs"  # we have it, the provider's statement does not
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"  # both know it, but we do not count it as paid/refunded
    DUPLICATE_THEIRS = "duplicate_theirs"  # the statement lists the same payment or refund twice

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    DifferenceKind.MISSING_OURS: "我方无记录",
    DifferenceKind.MISSING_THEIRS: "渠道无记录",
    DifferenceKind.AMOUNT_MISMATCH: "金额不符",
    DifferenceKind.STATUS_MISMATCH: "状态不符",
    DifferenceKind.DUPLICATE_THEIRS: "渠道重复记录",
}


@dataclass(frozen=True)
class OurOrder:
    order_no: str
    amount_fen: int
    state: OrderState
    paid_on: date | None  # Beijing date of the payment as we recorded it


@dataclass(frozen=True)
class OurRefund:
    refund_no: str
    order_no: str
    amount_fen: int
    state: RefundState
    succeeded_on: date | None


@dataclass(frozen=True)
class Difference:
    kind: DifferenceKind
    order_no: str
    refund_no: str = ""
    ours_fen: int | None = None
    theirs_fen: int | None = None
    ours_state: str = ""
    theirs_state: str = ""


@dataclass(frozen=True)
class Totals:
    statement_paid_fen: int
    statement_refunded_fen: int
    our_paid_fen: int
    our_refunded_fen: int


def reconcile(
    bill_date: date,
    entries: Iterable[StatementEntry],
    orders: Mapping[str, OurOrder],
    refunds: Mapping[str, OurRefund],
) -> tuple[list[Difference], Totals]:
    """Every difference between the statement of `bill_date` and our records, and the day's totals.

    `orders`/`refunds`: ours, by number, including at least those paid/refunded on `bill_date`
    and those the statement names.
    """
    entries = list(entries)
    payments = [e for e in entries if e.kind is NotificationKind.PAYMENT]
    refund_entries = [e for e in entries if e.kind is NotificationKind.REFUND]
    differences: list[Difference] = []

    seen = Counter(e.out_trade_no for e in payments)
    for number in sorted(n for n, count in seen.items() if count > 1):
        differences.append(Difference(DifferenceKind.DUPLICATE_THEIRS, number, theirs_state="PAID"))
    for entry in {e.out_trade_no: e for e in payments}.values():
        ours = orders.get(entry.out_trade_no)
        if ours is None:
            differences.append(
                Difference(
                    DifferenceKind.MISSING_OURS, entry.out_trade_no, theirs_fen=entry.amount_fen, theirs_state="PAID"
                )
            )
        elif ours.state not in PAID_STATES:
            differences.append(
                Difference(
                    DifferenceKind.STATUS_MISMATCH,
                    ours.order_no,
                    ours_fen=ours.amount_fen,
                    theirs_fen=entry.amount_fen,
                    ours_state=ours.state.value,
                    theirs_state="PAID",
                )
            )
        elif ours.amount_fen != entry.amount_fen:
            differences.append(
                Difference(
                    DifferenceKind.AMOUNT_MISMATCH,
                    ours.order_no,
                    ours_fen=ours.amount_fen,
                    theirs_fen=entry.amount_fen,
                    ours_state=ours.state.value,
                    theirs_state="PAID",
                )
            )
    listed = set(seen)
    our_paid = [o for o in orders.values() if o.paid_on == bill_date and o.state in PAID_STATES]
    for ours in sorted(our_paid, key=lambda o: o.order_no):
        if ours.order_no not in listed:
            differences.append(
                Difference(
                    DifferenceKind.MISSING_THEIRS, ours.order_no, ours_fen=ours.amount_fen, ours_state=ours.state.value
                )
            )

    seen_refunds = Counter(e.out_refund_no for e in refund_entries)
    for number in sorted(n for n, count in seen_refunds.items() if count > 1):
        entry = next(e for e in refund_entries if e.out_refund_no == number)
        differences.append(
            Difference(DifferenceKind.DUPLICATE_THEIRS, entry.out_trade_no, number, theirs_state="REFUNDED")
        )
    for entry in {e.out_refund_no: e for e in refund_entries}.values():
        ours_refund = refunds.get(entry.out_refund_no)
        if ours_refund is None:
            differences.append(
                Difference(
                    DifferenceKind.MISSING_OURS,
                    entry.out_trade_no,
                    entry.out_refund_no,
                    theirs_fen=entry.amount_fen,
                    theirs_state="REFUNDED",
                )
            )
        elif ours_refund.state is not RefundState.SUCCEEDED:
            differences.append(
                Difference(
                    DifferenceKind.STATUS_MISMATCH,
                    ours_refund.order_no,
                    ours_refund.refund_no,
                    ours_refund.amount_fen,
                    entry.amount_fen,
                    ours_refund.state.value,
                    "REFUNDED",
                )
            )
        elif ours_refund.amount_fen != entry.amount_fen:
            differences.append(
                Difference(
                    DifferenceKind.AMOUNT_MISMATCH,
                    ours_refund.order_no,
                    ours_refund.refund_no,
                    ours_refund.amount_fen,
                    entry.amount_fen,
                    ours_refund.state.value,
                    "REFUNDED",
                )
            )
    listed_refunds = set(seen_refunds)
    our_refunded = [r for r in refunds.values() if r.succeeded_on == bill_date and r.state is RefundState.SUCCEEDED]
    for ours_refund in sorted(our_refunded, key=lambda r: r.refund_no):
        if ours_refund.refund_no not in listed_refunds:
            differences.append(
                Difference(
                    DifferenceKind.MISSING_THEIRS,
                    ours_refund.order_no,
                    ours_refund.refund_no,
                    ours_fen=ours_refund.amount_fen,
                    ours_state=ours_refund.state.value,
                )
            )

    totals = Totals(
        statement_paid_fen=sum(e.amount_fen for e in payments),
        statement_refunded_fen=sum(e.amount_fen for e in refund_entries),
        our_paid_fen=sum(o.amount_fen for o in our_paid),
        our_refunded_fen=sum(r.amount_fen for r in our_refunded),
    )
    return differences, totals
