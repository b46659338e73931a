"""The payment rules without I/O: order states, who may pay, back-off, fees, refund policy, reconciliation."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest

from services.payment.domain import orders as rules
from services.payment.domain.fees import parse_fee, parse_yuan, yuan_text
from services.payment.domain.orders import CandidateFacts, OrderState
from services.payment.domain.reconciliation import DifferenceKind, OurOrder, OurRefund, reconcile
from services.payment.domain.refunds import RefundPolicy, RefundState
from services.payment.providers.base import NotificationKind, StatementEntry
from services.payment.service.config import PaymentConfig
from zsb.common.errors import FailedPrecondition, InvalidArgument

NOW = datetime(2026, 3, 10, 4, 0, 0)  # naive UTC: 12:00 in Beijing


# ---------------------------------------------------------------- the state machine


@pytest.mark.parametrize(
    ("state", "move", "after"),
    [
        (OrderState.CREATED, "hand_out", OrderState.PAYING),
        (OrderState.PAYING, "pay", OrderState.PAID),
        (OrderState.CLOSING, "pay", OrderState.PAID),
        (OrderState.CLOSED, "pay", OrderState.PAID),  # a verified payment is real money
        (OrderState.FAILED, "pay", OrderState.PAID),
        (OrderState.PAYING, "supersede", OrderState.CLOSING),
        (OrderState.CLOSING, "close", OrderState.CLOSED),
        (OrderState.CREATED, "fail", OrderState.FAILED),
        (OrderState.PAID, "refund", OrderState.REFUNDING),
        (OrderState.REFUNDING, "refunded", OrderState.REFUNDED),
        (OrderState.REFUNDING, "refund_failed", OrderState.PAID),
    ],
)
def test_allowed_transitions(state: OrderState, move: str, after: OrderState) -> None:
    assert rules.transition(state, move) is after
    assert state in rules.allowed_from(move)


@pytest.mark.parametrize(
    ("state", "move"),
    [
        (OrderState.PAID, "pay"),  # paid once
        (OrderState.REFUNDED, "pay"),
        (OrderState.PAID, "close"),  # a paid order is never closed
        (OrderState.PAID, "supersede"),
        (OrderState.CLOSED, "refund"),  # only paid money goes back
        (OrderState.REFUNDED, "refund"),  # and only once
        (OrderState.PAYING, "hand_out"),
    ],
)
def test_forbidden_transitions(state: OrderState, move: str) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        rules.transition(state, move)
    assert refused.value.reason == "ORDER_STATE" and state.label in refused.value.message


def test_paid_states_are_never_open() -> None:
    assert not (rules.PAID_STATES & rules.OPEN_STATES)
    assert all(s not in rules.allowed_from("pay") for s in rules.PAID_STATES)


# ---------------------------------------------------------------- who may pay


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (None, "NOT_CONFIRMED"),
        (CandidateFacts(identity_verified=True, confirmed=False, abandoned=False, paid=False), "NOT_CONFIRMED"),
        (CandidateFacts(identity_verified=False, confirmed=True, abandoned=False, paid=False), "IDENTITY_NOT_VERIFIED"),
        (CandidateFacts(identity_verified=True, confirmed=True, abandoned=True, paid=False), "ABANDONED"),
        (CandidateFacts(identity_verified=True, confirmed=True, abandoned=False, paid=True), "ALREADY_PAID"),
    ],
)
def test_who_may_not_pay(facts: CandidateFacts | None, reason: str) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        rules.check_can_pay(facts)
    assert refused.value.reason == reason
    assert rules.blocked_reason(facts) == refused.value.message


def test_verified_and_confirmed_may_pay() -> None:
    facts = CandidateFacts(identity_verified=True, confirmed=True, abandoned=False, paid=False)
    rules.check_can_pay(facts)
    assert rules.blocked_reason(facts) == ""


# ---------------------------------------------------------------- numbers and times


def test_order_numbers_fit_every_provider_and_differ() -> None:
    numbers = {rules.new_number("ZSB", NOW) for _ in range(200)}
    assert len(numbers) == 200
    for number in numbers:
        assert re.fullmatch(r"ZSB20260310[0-9A-F]{12}", number) and 8 <= len(number) <= 32


def test_next_check_backs_off_but_never_past_expiry() -> None:
    backoff = (30, 60, 120)
    expires = NOW + timedelta(minutes=30)
    grace = timedelta(seconds=60)
    assert rules.next_check(0, NOW, expires, backoff, grace) == NOW + timedelta(seconds=30)
    assert rules.next_check(1, NOW, expires, backoff, grace) == NOW + timedelta(seconds=60)
    assert rules.next_check(9, NOW, expires, backoff, grace) == NOW + timedelta(seconds=120)  # the last repeats
    near_end = expires - timedelta(seconds=10)
    assert rules.next_check(2, near_end, expires, backoff, grace) == expires + grace
    after = expires + timedelta(minutes=5)
    assert rules.next_check(2, after, expires, backoff, grace) == after + timedelta(seconds=120)


def test_expiry_and_reuse() -> None:
    expires = NOW + timedelta(minutes=10)
    assert not rules.is_expired(expires, expires + timedelta(seconds=59), timedelta(seconds=60))
    assert rules.is_expired(expires, expires + timedelta(seconds=60), timedelta(seconds=60))
    margin = timedelta(minutes=2)
    assert rules.can_reuse(OrderState.PAYING, expires, NOW, margin)
    assert not rules.can_reuse(OrderState.PAYING, expires, expires - timedelta(minutes=1), margin)
    assert not rules.can_reuse(OrderState.CREATED, expires, NOW, margin)


# ---------------------------------------------------------------- fees and money


def test_fee_validation() -> None:
    assert parse_fee(" 1 ", " 普通类 ", 15000).category_code == "1"
    for args, field in [
        (("", "普通类", 100), "category_code"),
        (("1-2", "普通类", 100), "category_code"),
        (("1", "", 100), "category_name"),
        (("1", "普通类", 0), "amount_fen"),
        (("1", "普通类", -5), "amount_fen"),
        (("1", "普通类", 1_000_001), "amount_fen"),
        (("1", "普通类", True), "amount_fen"),
    ]:
        with pytest.raises(InvalidArgument) as refused:
            parse_fee(*args)  # type: ignore[arg-type]
        assert refused.value.field == field


def test_yuan_text_and_parsing_are_exact() -> None:
    assert yuan_text(15000) == "150.00" and yuan_text(5) == "0.05" and yuan_text(-101) == "-1.01"
    assert parse_yuan("150") == 15000 and parse_yuan("150.5") == 15050 and parse_yuan("0.01") == 1
    assert parse_yuan("19.99") == 1999  # float('19.99')*100 is 1998.9999...
    for bad in ("", "1.234", "-1", "1e3", "01", "１５０", "150.", "abc"):
        with pytest.raises(InvalidArgument):
            parse_yuan(bad)


# ---------------------------------------------------------------- refund policy


def test_refund_policy() -> None:
    assert RefundPolicy().decide(NOW) == (True, "放弃报名")
    assert RefundPolicy(refund_on_abandon=False).decide(NOW)[0] is False
    deadline = RefundPolicy(until=NOW)
    assert deadline.decide(NOW)[0] is True
    refused, why = deadline.decide(NOW + timedelta(seconds=1))
    assert refused is False and "截止" in why


def test_refund_deadline_setting_is_beijing_time_unless_an_offset_is_given() -> None:
    policy = PaymentConfig(refund_until="2026-03-20T23:59:59").refund_policy()
    assert policy.until == datetime(2026, 3, 20, 15, 59, 59)
    assert PaymentConfig(refund_until="2026-03-20T23:59:59+00:00").refund_policy().until == datetime(
        2026, 3, 20, 23, 59, 59
    )
    assert PaymentConfig().refund_policy().until is None
    with pytest.raises(ValueError):
        PaymentConfig(refund_until="next friday")


# ---------------------------------------------------------------- reconciliation

DAY = date(2026, 3, 10)


def pay_entry(no: str, fen: int) -> StatementEntry:
    return StatementEntry(NotificationKind.PAYMENT, no, "T" + no, fen, NOW)


def refund_entry(no: str, refund_no: str, fen: int) -> StatementEntry:
    return StatementEntry(NotificationKind.REFUND, no, "T" + no, fen, NOW, refund_no, "R" + refund_no)


def test_matching_day_has_no_difference() -> None:
    orders = {"A": OurOrder("A", 15000, OrderState.PAID, DAY), "B": OurOrder("B", 25000, OrderState.REFUNDED, DAY)}
    refunds = {"RB": OurRefund("RB", "B", 25000, RefundState.SUCCEEDED, DAY)}
    entries = [pay_entry("A", 15000), pay_entry("B", 25000), refund_entry("B", "RB", 25000)]
    differences, totals = reconcile(DAY, entries, orders, refunds)
    assert differences == []
    assert (totals.statement_paid_fen, totals.our_paid_fen) == (40000, 40000)
    assert (totals.statement_refunded_fen, totals.our_refunded_fen) == (25000, 25000)


def test_every_kind_of_difference_is_reported() -> None:
    orders = {
        "PAIDHERE": OurOrder("PAIDHERE", 15000, OrderState.PAID, DAY),  # not on the statement
        "SILENT": OurOrder("SILENT", 15000, OrderState.PAYING, None),  # paid there, open here
        "AMOUNT": OurOrder("AMOUNT", 15000, OrderState.PAID, DAY),
        "OTHERDAY": OurOrder("OTHERDAY", 15000, OrderState.PAID, DAY - timedelta(days=1)),
    }
    refunds = {
        "RPENDING": OurRefund("RPENDING", "AMOUNT", 100, RefundState.PROCESSING, None),
        "ROURS": OurRefund("ROURS", "PAIDHERE", 15000, RefundState.SUCCEEDED, DAY),
    }
    entries = [
        pay_entry("SILENT", 15000),
        pay_entry("AMOUNT", 14999),
        pay_entry("STRANGER", 700),
        pay_entry("OTHERDAY", 15000),
        pay_entry("OTHERDAY", 15000),
        refund_entry("AMOUNT", "RPENDING", 100),
        refund_entry("X", "RUNKNOWN", 5),
    ]
    differences, totals = reconcile(DAY, entries, orders, refunds)
    found = {(d.kind, d.order_no, d.refund_no) for d in differences}
    assert found == {
        (DifferenceKind.MISSING_THEIRS, "PAIDHERE", ""),
        (DifferenceKind.STATUS_MISMATCH, "SILENT", ""),
        (DifferenceKind.AMOUNT_MISMATCH, "AMOUNT", ""),
        (DifferenceKind.MISSING_OURS, "STRANGER", ""),
        (DifferenceKind.DUPLICATE_THEIRS, "OTHERDAY", ""),
        (DifferenceKind.STATUS_MISMATCH, "AMOUNT", "RPENDING"),
        (DifferenceKind.MISSING_OURS, "X", "RUNKNOWN"),
        (DifferenceKind.MISSING_THEIRS, "PAIDHERE", "ROURS"),
    }
    amount = next(d for d in differences if d.kind is DifferenceKind.AMOUNT_MISMATCH)
    assert (amount.ours_fen, amount.theirs_fen) == (15000, 14999)
    # A payment recorded on another day but listed today is not "missing" on either side.
    assert not any(d.order_no == "OTHERDAY" and d.kind is DifferenceKind.MISSING_OURS for d in differences)
    assert totals.our_paid_fen == 30000  # PAIDHERE and AMOUNT were paid on DAY by our records
