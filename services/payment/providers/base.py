"""The provider protocol layer's shared vocabulary: requests, results, errors, money.

Every provider client (WeChat Pay, Alipay, UnionPay) implements `ProviderClient`. Use cases
speak only these types; the provider's own field names stay inside its module. Money is an
integer number of fen everywhere; conversion to a provider's yuan string goes through
`fen_to_yuan` / `yuan_to_fen` (Decimal, exact, never float).
"""

from __future__ import annotations

import abc
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

# Beijing time: every provider formats its local times in it (no DST, so a fixed offset is exact).
CST = timezone(timedelta(hours=8), "Asia/Shanghai")

Clock = Callable[[], datetime]
YUAN_PATTERN = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?", re.ASCII)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Provider(StrEnum):
    WECHAT = "wechat"
    ALIPAY = "alipay"
    UNIONPAY = "unionpay"


class TradeStatus(StrEnum):
    """A provider order's state, normalized across providers."""

    NOT_FOUND = "NOT_FOUND"  # the provider has no such order (e.g. Alipay page never opened)
    NOT_PAID = "NOT_PAID"  # created, waiting for the payer (includes "paying")
    PAID = "PAID"  # money received
    REFUNDED = "REFUNDED"  # was paid, (part of) the money went back
    CLOSED = "CLOSED"  # closed or expired unpaid: it can no longer be paid
    FAILED = "FAILED"  # the payment failed


class RefundStatus(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"  # abnormal/closed at the provider: money did not go back


class NotificationKind(StrEnum):
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"


class CloseOutcome(StrEnum):
    CLOSED = "CLOSED"  # the order can no longer be paid
    ALREADY_PAID = "ALREADY_PAID"  # too late: it was paid (handle as a payment)
    NOT_FOUND = "NOT_FOUND"  # the provider never saw it (can no longer be paid once expired)


# ---------------------------------------------------------------- errors


class ProviderError(Exception):
    """Base of every failure of the provider layer; `reason` is a stable code for logs and metrics."""

    reason = "provider_error"

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason


class ProviderConfigError(ProviderError):
    reason = "config"


class ProviderUnavailable(ProviderError):
    """Network failure, timeout or 5xx: the call may be retried later (with the same ids)."""

    reason = "unavailable"


class ProviderRequestRejected(ProviderError):
    """The provider answered (authentically) with a business error, e.g. ORDER_PAID."""

    reason = "rejected"

    def __init__(self, message: str, *, code: str = "", reason: str = "") -> None:
        super().__init__(message, reason=reason)
        self.code = code


class ResponseNotTrusted(ProviderError):
    """A synchronous answer whose signature or certificate did not verify: treat as no answer."""

    reason = "response_not_trusted"


class NotificationRejected(ProviderError):
    """An asynchronous notification that must not be acted on (reply failure, log, alert)."""

    reason = "notification_rejected"


class MalformedNotification(NotificationRejected):
    reason = "malformed"


class ForgedSignature(NotificationRejected):
    reason = "forged_signature"


class UnknownCertificate(NotificationRejected):
    """The serial/certificate named by the notification is not one we trust (wrong serial, bad chain)."""

    reason = "unknown_certificate"


class StaleNotification(NotificationRejected):
    """The signed timestamp is outside the accepted window: a replay of an old notification."""

    reason = "stale"


class WrongMerchant(NotificationRejected):
    """Authentic, but for another app id / merchant id / seller id than ours."""

    reason = "wrong_merchant"


class UnknownOrder(NotificationRejected):
    """Raised by the caller when no order of ours has the notified out_trade_no."""

    reason = "unknown_order"


class OrderMismatch(NotificationRejected):
    reason = "order_mismatch"


class AmountMismatch(NotificationRejected):
    reason = "amount_mismatch"


# ---------------------------------------------------------------- money


def fen_to_yuan(fen: int) -> str:
    """12345 -> '123.45' (Alipay's total_amount format). Only non-negative integers."""
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        raise ValueError(f"amount in fen must be a non-negative int, got {fen!r}")
    return f"{fen // 100}.{fen % 100:02d}"


def yuan_to_fen(text: str) -> int:
    """'123.45' -> 12345, exactly; a sign, exponent, more than 2 decimals or garbage is an error."""
    if not isinstance(text, str) or not YUAN_PATTERN.fullmatch(text):
        raise ValueError(f"not a yuan amount: {text!r}")
    return int(Decimal(text) * 100)


def parse_fen(value: Any) -> int:
    """A fen amount from a provider (int in JSON, digits in forms); strict."""
    if isinstance(value, bool):
        raise ValueError(f"not a fen amount: {value!r}")
    if isinstance(value, int):
        fen = value
    elif isinstance(value, str) and value.isdigit() and value.isascii():
        fen = int(value)
    else:
        raise ValueError(f"not a fen amount: {value!r}")
    if fen < 0:
        raise ValueError(f"negative amount: {value!r}")
    return fen


# ---------------------------------------------------------------- requests and results


@dataclass(frozen=True)
class PaymentRequest:
    """One provider order for one of our payment attempts."""

    out_trade_no: str  # ours, unique per attempt; 8-32 ASCII letters/digits fits all three providers
    amount_fen: int
    description: str  # shown to the payer
    notify_url: str  # our asynchronous callback for this provider
    expires_at: datetime  # aware; the provider refuses payment after it
    created_at: datetime  # aware; UnionPay identifies orders by (orderId, txnTime) and needs it again
    return_url: str = ""  # where the payer's browser goes back to (Alipay return_url, UnionPay frontUrl)

    def __post_init__(self) -> None:
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int) or self.amount_fen <= 0:
            raise ValueError("amount_fen must be a positive int")
        if not (self.out_trade_no.isascii() and self.out_trade_no.isalnum() and 8 <= len(self.out_trade_no) <= 32):
            raise ValueError("out_trade_no must be 8-32 ASCII letters or digits")
        for moment in (self.expires_at, self.created_at):
            if moment.tzinfo is None:
                raise ValueError("times must be timezone-aware")
        if self.expires_at <= self.created_at:
            raise ValueError("expires_at must be after created_at")


@dataclass(frozen=True)
class PaymentAction:
    """What the candidate's page needs to pay.

    kind "qr": show `url` as a QR code (WeChat Native code_url, Alipay precreate qr_code);
    kind "redirect": send the browser to `url` (Alipay page pay);
    kind "form": the browser POSTs `form_fields` to `url` (UnionPay frontTransReq).
    """

    provider: Provider
    out_trade_no: str
    kind: Literal["qr", "redirect", "form"]
    url: str
    form_fields: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    def auto_submit_html(self) -> str:
        """A self-submitting HTML form (the documented way to hand a browser to UnionPay's gateway)."""
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in self.form_fields.items()
        )
        return (
            '<!doctype html><html><head><meta charset="utf-8"><title>正在跳转支付</title></head>'
            f'<body onload="document.forms[0].submit()"><form method="post" action="{html.escape(self.url)}">'
            f'{inputs}<noscript><button type="submit">继续支付</button></noscript></form></body></html>'
        )


@dataclass(frozen=True)
class RefundInfo:
    out_refund_no: str
    provider_refund_id: str
    refund_fen: int
    status: RefundStatus
    succeeded_at: datetime | None = None


@dataclass(frozen=True)
class Notification:
    """A verified, normalized asynchronous notification.

    Verified means: the signature is the provider's, the merchant/app ids are ours and the
    timestamp (where the protocol signs one) is fresh. Whether it matches one of OUR orders is
    the caller's check (`check_against_order`), as is idempotency (`dedup_key`).
    """

    provider: Provider
    kind: NotificationKind
    out_trade_no: str
    provider_trade_no: str
    amount_fen: int | None  # the order's total as the provider states it (None: a UnionPay refund)
    status: TradeStatus
    paid_at: datetime | None
    notification_id: str
    refund: RefundInfo | None
    raw: Mapping[str, Any]

    @property
    def dedup_key(self) -> str:
        """Stable across redeliveries of the same fact (for an idempotency table)."""
        suffix = self.refund.out_refund_no if self.refund else self.status.value
        return f"{self.provider.value}:{self.kind.value}:{self.out_trade_no}:{suffix}"


@dataclass(frozen=True)
class TradeQuery:
    provider: Provider
    out_trade_no: str
    status: TradeStatus
    provider_trade_no: str = ""
    amount_fen: int | None = None
    paid_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    provider_trade_no: str  # UnionPay refunds reference the payment's queryId
    out_refund_no: str  # ours, unique per refund; 8-32 ASCII letters/digits
    refund_fen: int
    total_fen: int
    reason: str
    notify_url: str
    requested_at: datetime  # aware; UnionPay's txnTime of the refund (needed to query it)

    def __post_init__(self) -> None:
        if not (0 < self.refund_fen <= self.total_fen):
            raise ValueError("refund_fen must be in 1..total_fen")
        if not (self.out_refund_no.isascii() and self.out_refund_no.isalnum() and 8 <= len(self.out_refund_no) <= 32):
            raise ValueError("out_refund_no must be 8-32 ASCII letters or digits")
        if self.requested_at.tzinfo is None:
            raise ValueError("requested_at must be timezone-aware")


@dataclass(frozen=True)
class RefundResult:
    provider: Provider
    out_trade_no: str
    refund: RefundInfo
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatementEntry:
    kind: NotificationKind  # PAYMENT or REFUND
    out_trade_no: str
    provider_trade_no: str
    amount_fen: int  # payment: the amount paid; refund: the amount refunded
    occurred_at: datetime
    out_refund_no: str = ""
    provider_refund_id: str = ""


@dataclass(frozen=True)
class Statement:
    provider: Provider
    bill_date: date
    entries: tuple[StatementEntry, ...]
    raw: bytes  # the file as downloaded (keep it for audit)

    @property
    def paid_fen(self) -> int:
        return sum(e.amount_fen for e in self.entries if e.kind is NotificationKind.PAYMENT)

    @property
    def refunded_fen(self) -> int:
        return sum(e.amount_fen for e in self.entries if e.kind is NotificationKind.REFUND)


@dataclass(frozen=True)
class NotificationReply:
    """The exact HTTP answer to give the provider's notification request."""

    status: int
    body: bytes
    content_type: str


def check_against_order(notification: Notification, *, out_trade_no: str, amount_fen: int) -> None:
    """The caller's check that a verified notification is about this order and this amount.

    (Alipay's documentation asks exactly this of out_trade_no and total_amount; app_id and
    seller_id are already checked during verification.)
    """
    if notification.out_trade_no != out_trade_no:
        raise OrderMismatch(f"notification is for {notification.out_trade_no}, not {out_trade_no}")
    if notification.amount_fen is None and notification.kind is NotificationKind.REFUND:
        return  # UnionPay refund notifications do not state the order total
    if notification.amount_fen != amount_fen:
        raise AmountMismatch(
            f"order {out_trade_no}: provider says {notification.amount_fen} fen, our order is {amount_fen} fen"
        )


def check_refund_against(notification: Notification, *, out_refund_no: str, refund_fen: int) -> None:
    """The caller's check that a verified refund notification is about this refund of ours."""
    refund = notification.refund
    if notification.kind is not NotificationKind.REFUND or refund is None:
        raise OrderMismatch("not a refund notification")
    if refund.out_refund_no != out_refund_no:
        raise OrderMismatch(f"notification is for refund {refund.out_refund_no}, not {out_refund_no}")
    # Alipay states the trade's cumulative refund_fee; with one refund per trade it equals ours.
    if refund.refund_fen != refund_fen:
        raise AmountMismatch(f"refund {out_refund_no}: provider says {refund.refund_fen} fen, ours is {refund_fen} fen")


class ProviderClient(abc.ABC):
    """What the payment use cases call; one implementation per provider."""

    provider: Provider

    @abc.abstractmethod
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        """Create (or prepare) the provider order and return what the payer's page needs."""

    @abc.abstractmethod
    def parse_and_verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify and normalize a notification, or raise a NotificationRejected subclass."""

    @abc.abstractmethod
    def success_reply(self) -> NotificationReply:
        """The documented answer meaning 'handled, stop retrying'."""

    @abc.abstractmethod
    def failure_reply(self, message: str = "") -> NotificationReply:
        """The documented answer meaning 'not handled, retry later'."""

    @abc.abstractmethod
    def query(self, out_trade_no: str, *, created_at: datetime | None = None) -> TradeQuery:
        """The order's state, from a verified answer (UnionPay needs created_at)."""

    @abc.abstractmethod
    def close(self, out_trade_no: str, *, created_at: datetime | None = None) -> CloseOutcome:
        """Make sure an unpaid order can no longer be paid."""

    @abc.abstractmethod
    def refund(self, request: RefundRequest) -> RefundResult:
        """Request a refund; idempotent on out_refund_no at every provider."""

    @abc.abstractmethod
    def query_refund(
        self, out_refund_no: str, *, out_trade_no: str, requested_at: datetime | None = None
    ) -> RefundResult:
        """The refund's state, from a verified answer (UnionPay needs requested_at)."""

    @abc.abstractmethod
    def download_statement(self, bill_date: date) -> Statement:
        """Download and parse the provider's trade statement for one (Beijing) day."""

    @staticmethod
    @abc.abstractmethod
    def parse_statement(raw: bytes, bill_date: date) -> Statement:
        """Parse a statement file in the provider's own format."""


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    """HTTP header names are case-insensitive; normalize once."""
    return {str(k).lower(): str(v) for k, v in headers.items()}
