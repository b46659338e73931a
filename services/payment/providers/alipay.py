"""Alipay open platform (public-key mode, RSA2), through the `python-alipay-sdk` SDK.

The SDK builds and signs our requests (RSA2 = SHA256withRSA over the sorted "k=v&..." string),
calls the gateway and verifies each synchronous answer's signature against Alipay's public key.
Here: the page/QR payment, typed notification rejections (the async notify is verified with the
SDK over the sorted params without sign and sign_type, then app_id, seller_id and notify_time
are checked), exact yuan<->fen conversion, and the statement (bill) download and parsing.
"""

from __future__ import annotations

import binascii
import csv
import io
import re
import urllib.error
import zipfile
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

import requests
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig

from services.payment.providers.base import (
    CST,
    AmountMismatch,
    Clock,
    CloseOutcome,
    ForgedSignature,
    MalformedNotification,
    Notification,
    NotificationKind,
    NotificationReply,
    PaymentAction,
    PaymentRequest,
    Provider,
    ProviderClient,
    ProviderConfigError,
    ProviderError,
    ProviderRequestRejected,
    ProviderUnavailable,
    RefundInfo,
    RefundRequest,
    RefundResult,
    RefundStatus,
    ResponseNotTrusted,
    StaleNotification,
    Statement,
    StatementEntry,
    TradeQuery,
    TradeStatus,
    WrongMerchant,
    fen_to_yuan,
    utc_now,
    yuan_to_fen,
)
from services.payment.providers.config import PaymentProviderSettings, read_file, require

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TRADE_STATES: dict[str, TradeStatus] = {
    "WAIT_BUYER_PAY": TradeStatus.NOT_PAID,
    "TRADE_SUCCESS": TradeStatus.PAID,
    "TRADE_FINISHED": TradeStatus.PAID,
    "TRADE_CLOSED": TradeStatus.CLOSED,
}
NOTIFY_REQUIRED = ("notify_id", "notify_time", "app_id", "out_trade_no", "trade_no", "trade_status", "total_amount")
TRADE_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"


def alipay_time(moment: datetime) -> str:
    return moment.astimezone(CST).strftime(TIME_FORMAT)


def parse_alipay_time(text: str) -> datetime:
    """'yyyy-MM-dd HH:mm:ss' in Beijing time; gmt_refund carries milliseconds as well."""
    fmt = TIME_FORMAT + ".%f" if "." in text else TIME_FORMAT
    return datetime.strptime(text, fmt).replace(tzinfo=CST)


class _AliPay(AliPay):
    """The SDK stamps requests with the host's local time; Alipay expects Beijing time."""

    def build_body(self, method: str, biz_content: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        data = super().build_body(method, biz_content, **kwargs)
        data["timestamp"] = alipay_time(utc_now())
        return data


class AlipayClient(ProviderClient):
    provider = Provider.ALIPAY

    def __init__(self, settings: PaymentProviderSettings, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._app_id = require("alipay_app_id", settings.alipay_app_id)
        self._seller_id = require("alipay_seller_id", settings.alipay_seller_id)
        self._gateway = require("alipay_gateway_url", settings.alipay_gateway_url)
        self._product = settings.alipay_product
        if self._product not in ("page", "precreate"):
            raise ProviderConfigError("PAYMENT_ALIPAY_PRODUCT must be page or precreate")
        self._max_age = settings.alipay_notify_max_age_seconds
        self._timeout = settings.http_timeout_seconds
        try:
            self._sdk = _AliPay(
                appid=self._app_id,
                app_private_key_string=read_file(
                    "alipay_app_private_key_file", settings.alipay_app_private_key_file
                ).decode(),
                alipay_public_key_string=read_file("alipay_public_key_file", settings.alipay_public_key_file).decode(),
                sign_type="RSA2",
                config=AliPayConfig(timeout=self._timeout),
            )
        except (ValueError, IndexError, TypeError) as exc:
            raise ProviderConfigError(f"Alipay keys: {exc}") from exc
        # The SDK chooses between two hard-coded hosts; the gateway is a setting here.
        self._sdk._gateway = self._gateway

    # ------------------------------------------------------------ calls

    def _call(self, fn: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """One verified server API call; 'code' 10000 is success, anything else is returned for the caller."""
        try:
            data = fn(*args, **kwargs)
        except AliPayValidationError as exc:
            raise ResponseNotTrusted("Alipay answer signature did not verify") from exc
        except AliPayException as exc:
            # No sign at all (error_response): the gateway refused the request itself.
            raise ProviderRequestRejected(f"Alipay refused the request: {exc}", code="error_response") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise ProviderUnavailable(f"Alipay unreachable: {exc}") from exc
        except (ValueError, KeyError) as exc:
            raise ResponseNotTrusted(f"Alipay answer unreadable: {exc}") from exc
        code = str(data.get("code", ""))
        if code == "20000":  # 服务不可用
            raise ProviderUnavailable(f"Alipay unavailable: {data.get('sub_msg', '')}")
        return data

    @staticmethod
    def _rejected(data: Mapping[str, Any]) -> ProviderRequestRejected:
        return ProviderRequestRejected(
            f"Alipay {data.get('code')}: {data.get('sub_code', '')} {data.get('sub_msg', data.get('msg', ''))}",
            code=str(data.get("sub_code") or data.get("code") or ""),
        )

    # ------------------------------------------------------------ payments

    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        common = {
            "subject": request.description,
            "out_trade_no": request.out_trade_no,
            "total_amount": fen_to_yuan(request.amount_fen),
            "time_expire": alipay_time(request.expires_at),
        }
        if self._product == "page":
            query = self._sdk.api_alipay_trade_page_pay(
                return_url=request.return_url or None, notify_url=request.notify_url, **common
            )
            return PaymentAction(self.provider, request.out_trade_no, "redirect", f"{self._gateway}?{query}")
        data = self._call(self._sdk.api_alipay_trade_precreate, notify_url=request.notify_url, **common)
        if data.get("code") != "10000" or not data.get("qr_code"):
            raise self._rejected(data)
        return PaymentAction(self.provider, request.out_trade_no, "qr", str(data["qr_code"]), raw=data)

    def query(self, out_trade_no: str, *, created_at: datetime | None = None) -> TradeQuery:
        data = self._call(self._sdk.api_alipay_trade_query, out_trade_no=out_trade_no)
        if data.get("sub_code") == TRADE_NOT_EXIST:
            return TradeQuery(self.provider, out_trade_no, TradeStatus.NOT_FOUND, raw=data)
        if data.get("code") != "10000":
            raise self._rejected(data)
        if data.get("out_trade_no") != out_trade_no:
            raise ResponseNotTrusted("Alipay answered about another order")
        state = TRADE_STATES.get(str(data.get("trade_status")))
        if state is None:
            raise ProviderError(f"unknown Alipay trade_status {data.get('trade_status')!r}")
        paid_at = parse_alipay_time(data["send_pay_date"]) if data.get("send_pay_date") else None
        if state is TradeStatus.CLOSED and paid_at is not None:
            state = TradeStatus.REFUNDED  # TRADE_CLOSED after a payment: fully refunded
        return TradeQuery(
            self.provider,
            out_trade_no,
            state,
            provider_trade_no=str(data.get("trade_no", "")),
            amount_fen=yuan_to_fen(data["total_amount"]) if data.get("total_amount") else None,
            paid_at=paid_at,
            raw=data,
        )

    def close(self, out_trade_no: str, *, created_at: datetime | None = None) -> CloseOutcome:
        data = self._call(self._sdk.api_alipay_trade_close, out_trade_no=out_trade_no)
        if data.get("code") == "10000":
            return CloseOutcome.CLOSED
        if data.get("sub_code") == TRADE_NOT_EXIST:
            return CloseOutcome.NOT_FOUND
        if data.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            return CloseOutcome.ALREADY_PAID
        raise self._rejected(data)

    # ------------------------------------------------------------ refunds

    def refund(self, request: RefundRequest) -> RefundResult:
        # Alipay sends the refund's notification to the payment's notify_url (no notify_url here).
        data = self._call(
            self._sdk.api_alipay_trade_refund,
            refund_amount=fen_to_yuan(request.refund_fen),
            out_trade_no=request.out_trade_no,
            out_request_no=request.out_refund_no,
            refund_reason=request.reason,
        )
        if data.get("code") != "10000":
            raise self._rejected(data)
        if data.get("fund_change") == "Y":
            info = RefundInfo(
                out_refund_no=request.out_refund_no,
                provider_refund_id=str(data.get("trade_no", "")),
                refund_fen=request.refund_fen,
                status=RefundStatus.SUCCESS,
                succeeded_at=parse_alipay_time(data["gmt_refund_pay"]) if data.get("gmt_refund_pay") else None,
            )
            return RefundResult(self.provider, request.out_trade_no, info, raw=data)
        # fund_change N: a repeated request, or not settled yet; the refund query is authoritative.
        return self.query_refund(request.out_refund_no, out_trade_no=request.out_trade_no)

    def query_refund(
        self, out_refund_no: str, *, out_trade_no: str, requested_at: datetime | None = None
    ) -> RefundResult:
        data = self._call(
            self._sdk.api_alipay_trade_fastpay_refund_query, out_request_no=out_refund_no, out_trade_no=out_trade_no
        )
        if data.get("code") != "10000":
            if data.get("sub_code") == TRADE_NOT_EXIST:
                return RefundResult(
                    self.provider, out_trade_no, RefundInfo(out_refund_no, "", 0, RefundStatus.NOT_FOUND)
                )
            raise self._rejected(data)
        if not data.get("refund_amount"):
            # Documented: an empty answer means the refund does not exist (or is still being accepted).
            info = RefundInfo(out_refund_no, "", 0, RefundStatus.NOT_FOUND)
        else:
            status = RefundStatus.SUCCESS if data.get("refund_status") == "REFUND_SUCCESS" else RefundStatus.PROCESSING
            info = RefundInfo(
                out_refund_no=out_refund_no,
                provider_refund_id=str(data.get("trade_no", "")),
                refund_fen=yuan_to_fen(data["refund_amount"]),
                status=status,
                succeeded_at=parse_alipay_time(data["gmt_refund_pay"]) if data.get("gmt_refund_pay") else None,
            )
        return RefundResult(self.provider, out_trade_no, info, raw=data)

    # ------------------------------------------------------------ notifications

    def parse_and_verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        try:
            pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True, errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedNotification("notification is not a urlencoded form") from exc
        params = dict(pairs)
        if len(params) != len(pairs):
            raise MalformedNotification("duplicate parameters")
        sign = params.pop("sign", "")
        sign_type = params.pop("sign_type", "")
        if not sign or sign_type != "RSA2":
            raise MalformedNotification(f"missing sign or sign_type {sign_type!r} is not RSA2")
        missing = [k for k in NOTIFY_REQUIRED if not params.get(k)]
        if missing:
            raise MalformedNotification(f"missing {', '.join(missing)}")
        try:
            genuine = self._sdk.verify(dict(params), sign)
        except (ValueError, TypeError, binascii.Error):
            genuine = False
        if not genuine:
            raise ForgedSignature("sign does not verify against Alipay's public key")
        if params["app_id"] != self._app_id:
            raise WrongMerchant(f"notification for app_id {params['app_id']!r}")
        if params.get("seller_id") != self._seller_id:
            raise WrongMerchant(f"notification for seller_id {params.get('seller_id')!r}")
        try:
            sent_at = parse_alipay_time(params["notify_time"])
            amount_fen = yuan_to_fen(params["total_amount"])
            refund_fen = yuan_to_fen(params["refund_fee"]) if params.get("refund_fee") else None
            paid_at = parse_alipay_time(params["gmt_payment"]) if params.get("gmt_payment") else None
            refunded_at = parse_alipay_time(params["gmt_refund"]) if params.get("gmt_refund") else None
        except ValueError as exc:
            raise MalformedNotification(f"bad time or amount: {exc}") from exc
        age = (self._clock() - sent_at).total_seconds()
        if age > self._max_age or age < -300:
            raise StaleNotification(f"notify_time {params['notify_time']} is outside the accepted window")
        state = TRADE_STATES.get(params["trade_status"])
        if state is None:
            raise MalformedNotification(f"unknown trade_status {params['trade_status']!r}")

        refund = None
        kind = NotificationKind.PAYMENT
        if refund_fen is not None and params.get("out_biz_no"):
            # A refund: Alipay re-notifies the trade with refund_fee (cumulative) and out_biz_no
            # (our out_request_no); the trade is TRADE_CLOSED once fully refunded.
            kind = NotificationKind.REFUND
            state = TradeStatus.REFUNDED
            refund = RefundInfo(
                out_refund_no=params["out_biz_no"],
                provider_refund_id=params["trade_no"],
                refund_fen=refund_fen,
                status=RefundStatus.SUCCESS,
                succeeded_at=refunded_at,
            )
        return Notification(
            provider=self.provider,
            kind=kind,
            out_trade_no=params["out_trade_no"],
            provider_trade_no=params["trade_no"],
            amount_fen=amount_fen,
            status=state,
            paid_at=paid_at,
            notification_id=params["notify_id"],
            refund=refund,
            raw={**params, "sign": sign, "sign_type": sign_type},
        )

    def success_reply(self) -> NotificationReply:
        return NotificationReply(200, b"success", "text/plain")

    def failure_reply(self, message: str = "") -> NotificationReply:
        # Anything but exactly "success" makes Alipay retry; "failure" is the conventional word.
        return NotificationReply(200, b"failure", "text/plain")

    # ------------------------------------------------------------ statements

    def download_statement(self, bill_date: date) -> Statement:
        data = self._call(
            self._sdk.server_api,
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": bill_date.isoformat()},
        )
        if data.get("code") != "10000" or not data.get("bill_download_url"):
            raise self._rejected(data)
        try:
            response = requests.get(str(data["bill_download_url"]), timeout=self._timeout)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"Alipay bill download failed: {exc}") from exc
        if response.status_code != 200:
            raise ProviderUnavailable(f"Alipay bill download answered HTTP {response.status_code}")
        return self.parse_statement(response.content, bill_date)

    @staticmethod
    def parse_statement(raw: bytes, bill_date: date) -> Statement:
        """The zip's 业务明细 CSV (GBK): '#' comment lines, a header, lines, '#' totals."""
        try:
            return _parse_statement(raw, bill_date)
        except (ValueError, KeyError, IndexError, csv.Error) as exc:  # UnicodeDecodeError is a ValueError
            raise ProviderError(f"unreadable Alipay statement: {exc}") from exc


def _parse_statement(raw: bytes, bill_date: date) -> Statement:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = [n for n in archive.namelist() if n.endswith("业务明细.csv")]
            if len(names) != 1:
                raise ProviderError("Alipay bill zip has no single 业务明细.csv")
            text = archive.read(names[0]).decode("gbk")
    except zipfile.BadZipFile as exc:
        raise ProviderError("Alipay bill is not a zip file") from exc
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.startswith("支付宝交易号")), None)
    if header_at is None:
        raise ProviderError("Alipay bill has no header line")
    body = []
    for line in lines[header_at:]:
        if line.startswith("#"):
            break
        body.append(line)
    rows = list(csv.reader(body))
    header = [h.strip() for h in rows[0]]
    entries = []
    for row in rows[1:]:
        record = dict(zip(header, (v.strip() for v in row), strict=True))
        amount = record["订单金额（元）"]
        occurred_at = parse_alipay_time(record["完成时间"])
        if record["业务类型"] == "退款":
            entries.append(
                StatementEntry(
                    kind=NotificationKind.REFUND,
                    out_trade_no=record["商户订单号"],
                    provider_trade_no=record["支付宝交易号"],
                    amount_fen=yuan_to_fen(amount.removeprefix("-")),
                    occurred_at=occurred_at,
                    out_refund_no=record["退款批次号/请求号"],
                    provider_refund_id=record["支付宝交易号"],
                )
            )
        elif record["业务类型"] == "交易":
            entries.append(
                StatementEntry(
                    kind=NotificationKind.PAYMENT,
                    out_trade_no=record["商户订单号"],
                    provider_trade_no=record["支付宝交易号"],
                    amount_fen=yuan_to_fen(amount),
                    occurred_at=occurred_at,
                )
            )
    statement = Statement(Provider.ALIPAY, bill_date, tuple(entries), raw)
    totals = re.search(r"#交易合计：(\d+)笔，商家实收共(-?[\d.]+)元", text)
    refunds = re.search(r"#退款合计：(\d+)笔，商家实收共(-?[\d.]+)元", text)
    if not totals or not refunds:
        raise ProviderError("Alipay bill has no totals")
    payments = [e for e in entries if e.kind is NotificationKind.PAYMENT]
    if int(totals.group(1)) != len(payments) or yuan_to_fen(totals.group(2)) != statement.paid_fen:
        raise AmountMismatch("Alipay bill payment totals disagree with its lines")
    if int(refunds.group(1)) != len(entries) - len(payments):
        raise AmountMismatch("Alipay bill refund count disagrees with its lines")
    if yuan_to_fen(refunds.group(2).removeprefix("-")) != statement.refunded_fen:
        raise AmountMismatch("Alipay bill refund totals disagree with its lines")
    return statement
