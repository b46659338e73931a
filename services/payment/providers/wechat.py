"""WeChat Pay API v3, Native pay, through the `wechatpayv3` SDK.

The SDK signs our requests (Authorization: WECHATPAY2-SHA256-RSA2048 over
"METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n" with our API key), verifies every answer against the
platform certificate, and provides the notification primitives we use (RSA verification over
"timestamp\\nnonce\\nbody\\n", AEAD_AES_256_GCM decryption with the APIv3 key). What it does not
do, we add here: a typed rejection per failure, the Wechatpay-Serial must name a platform
certificate we already trust (no download triggered by a notification), the timestamp window,
the mchid/appid check, the statement's hash check and parsing.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import aes_decrypt, rsa_verify

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
    UnknownCertificate,
    WrongMerchant,
    lower_keys,
    parse_fen,
    utc_now,
    yuan_to_fen,
)
from services.payment.providers.config import PaymentProviderSettings, read_file, require

log = logging.getLogger(__name__)

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"

TRADE_STATES: dict[str, TradeStatus] = {
    "SUCCESS": TradeStatus.PAID,
    "REFUND": TradeStatus.REFUNDED,
    "NOTPAY": TradeStatus.NOT_PAID,
    "USERPAYING": TradeStatus.NOT_PAID,
    "CLOSED": TradeStatus.CLOSED,
    "REVOKED": TradeStatus.CLOSED,
    "PAYERROR": TradeStatus.FAILED,
}
REFUND_STATES: dict[str, RefundStatus] = {
    "SUCCESS": RefundStatus.SUCCESS,
    "PROCESSING": RefundStatus.PROCESSING,
    "CLOSED": RefundStatus.FAILED,
    "ABNORMAL": RefundStatus.FAILED,
}
# The trade bill's summary line starts with this header (the detail section ends before it).
BILL_SUMMARY_HEADER = "总交易单数"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(CST).isoformat(timespec="seconds")


def parse_rfc3339(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    return moment


def load_platform_certificates(directory: str, now: datetime) -> list[x509.Certificate]:
    """The currently valid platform certificates in the configured directory."""
    path = Path(require("wechat_platform_cert_dir", directory))
    certs = []
    for file in sorted(path.glob("*.pem")):
        cert = x509.load_pem_x509_certificate(file.read_bytes())
        if cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            certs.append(cert)
    if not certs:
        raise ProviderConfigError(f"no valid WeChat Pay platform certificate (*.pem) in {path}")
    return certs


class WeChatPayClient(ProviderClient):
    provider = Provider.WECHAT

    def __init__(self, settings: PaymentProviderSettings, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._mchid = require("wechat_mchid", settings.wechat_mchid)
        self._appid = require("wechat_appid", settings.wechat_appid)
        self._apiv3_key = require("wechat_apiv3_key", settings.wechat_apiv3_key)
        if len(self._apiv3_key.encode()) != 32:
            raise ProviderConfigError("PAYMENT_WECHAT_APIV3_KEY must be 32 bytes (AES-256-GCM key)")
        self._max_age = settings.wechat_notify_max_age_seconds
        # Checked before the SDK sees the directory: with no valid certificate the SDK would go
        # and download some from the production host during construction.
        load_platform_certificates(settings.wechat_platform_cert_dir, clock())
        key_pem = read_file("wechat_merchant_key_file", settings.wechat_merchant_key_file).decode()
        timeout = settings.http_timeout_seconds
        try:
            self._sdk = WeChatPay(
                wechatpay_type=WeChatPayType.NATIVE,
                mchid=self._mchid,
                private_key=key_pem,
                cert_serial_no=require("wechat_merchant_serial", settings.wechat_merchant_serial),
                appid=self._appid,
                apiv3_key=self._apiv3_key,
                cert_dir=settings.wechat_platform_cert_dir,
                timeout=(timeout, timeout),
            )
        except ProviderConfigError:
            raise
        except Exception as exc:  # the SDK reports a bad key with a bare Exception
            raise ProviderConfigError(f"WeChat Pay client: {exc}") from exc
        # The SDK hard-codes the production host; the base URL is a setting (sandbox or production).
        self._sdk._core._gate_way = settings.wechat_base_url.rstrip("/")

    # ------------------------------------------------------------ calls

    def _call(self, fn: Callable[..., tuple[int, Any]], *args: Any, **kwargs: Any) -> tuple[int, Any]:
        """One SDK call: network errors, untrusted answers and 5xx become typed errors."""
        try:
            status, body = fn(*args, **kwargs)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"WeChat Pay unreachable: {exc}") from exc
        except Exception as exc:
            # The SDK signals a bad answer signature with a bare Exception of this text.
            if "failed to verify the signature" in str(exc):
                raise ResponseNotTrusted("WeChat Pay answer signature did not verify") from exc
            raise
        if status >= 500:
            raise ProviderUnavailable(f"WeChat Pay answered HTTP {status}")
        return status, body

    @staticmethod
    def _json(body: Any) -> dict[str, Any]:
        if isinstance(body, bytes):
            body = body.decode()
        if not body:
            return {}
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ResponseNotTrusted("WeChat Pay answer is not a JSON object")
        return data

    def _rejected(self, status: int, body: Any) -> ProviderRequestRejected:
        try:
            data = self._json(body)
        except ValueError:
            data = {}
        return ProviderRequestRejected(
            f"WeChat Pay HTTP {status}: {data.get('code', '')} {data.get('message', '')}".strip(),
            code=str(data.get("code", "")),
        )

    # ------------------------------------------------------------ payments

    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        status, body = self._call(
            self._sdk.pay,
            description=request.description,
            out_trade_no=request.out_trade_no,
            amount={"total": request.amount_fen, "currency": "CNY"},
            time_expire=rfc3339(request.expires_at),
            notify_url=request.notify_url,
        )
        if status != 200:
            raise self._rejected(status, body)
        data = self._json(body)
        code_url = data.get("code_url")
        if not isinstance(code_url, str) or not code_url:
            raise ProviderError("WeChat Pay answer has no code_url")
        return PaymentAction(self.provider, request.out_trade_no, "qr", code_url, raw=data)

    def query(self, out_trade_no: str, *, created_at: datetime | None = None) -> TradeQuery:
        status, body = self._call(self._sdk.query, out_trade_no=out_trade_no)
        if status == 404:
            return TradeQuery(self.provider, out_trade_no, TradeStatus.NOT_FOUND, raw=self._json(body))
        if status != 200:
            raise self._rejected(status, body)
        data = self._json(body)
        if data.get("out_trade_no") != out_trade_no or data.get("mchid") != self._mchid:
            raise ResponseNotTrusted("WeChat Pay answered about another order or merchant")
        state = TRADE_STATES.get(str(data.get("trade_state")))
        if state is None:
            raise ProviderError(f"unknown WeChat trade_state {data.get('trade_state')!r}")
        amount = data.get("amount") or {}
        success_time = data.get("success_time")
        return TradeQuery(
            self.provider,
            out_trade_no,
            state,
            provider_trade_no=str(data.get("transaction_id") or ""),
            amount_fen=parse_fen(amount["total"]) if "total" in amount else None,
            paid_at=parse_rfc3339(success_time) if success_time else None,
            raw=data,
        )

    def close(self, out_trade_no: str, *, created_at: datetime | None = None) -> CloseOutcome:
        status, body = self._call(self._sdk.close, out_trade_no=out_trade_no)
        if status in (200, 204):
            return CloseOutcome.CLOSED
        error = self._rejected(status, body)
        if error.code in ("ORDERPAID", "ORDER_PAID"):
            return CloseOutcome.ALREADY_PAID
        if error.code in ("ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS"):
            return CloseOutcome.NOT_FOUND
        raise error

    # ------------------------------------------------------------ refunds

    def _refund_result(self, data: dict[str, Any]) -> RefundResult:
        state = REFUND_STATES.get(str(data.get("status")))
        if state is None:
            raise ProviderError(f"unknown WeChat refund status {data.get('status')!r}")
        success_time = data.get("success_time")
        return RefundResult(
            self.provider,
            str(data.get("out_trade_no", "")),
            RefundInfo(
                out_refund_no=str(data.get("out_refund_no", "")),
                provider_refund_id=str(data.get("refund_id", "")),
                refund_fen=parse_fen((data.get("amount") or {}).get("refund")),
                status=state,
                succeeded_at=parse_rfc3339(success_time) if success_time else None,
            ),
            raw=data,
        )

    def refund(self, request: RefundRequest) -> RefundResult:
        status, body = self._call(
            self._sdk.refund,
            out_refund_no=request.out_refund_no,
            amount={"refund": request.refund_fen, "total": request.total_fen, "currency": "CNY"},
            out_trade_no=request.out_trade_no,
            reason=request.reason,
            notify_url=request.notify_url,
        )
        if status != 200:
            raise self._rejected(status, body)
        return self._refund_result(self._json(body))

    def query_refund(
        self, out_refund_no: str, *, out_trade_no: str, requested_at: datetime | None = None
    ) -> RefundResult:
        status, body = self._call(self._sdk.query_refund, out_refund_no=out_refund_no)
        if status == 404:
            info = RefundInfo(out_refund_no, "", 0, RefundStatus.NOT_FOUND)
            return RefundResult(self.provider, out_trade_no, info, raw=self._json(body))
        if status != 200:
            raise self._rejected(status, body)
        return self._refund_result(self._json(body))

    # ------------------------------------------------------------ notifications

    def parse_and_verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        h = lower_keys(headers)
        signature = h.get("wechatpay-signature", "")
        timestamp = h.get("wechatpay-timestamp", "")
        nonce = h.get("wechatpay-nonce", "")
        serial = h.get("wechatpay-serial", "")
        if not (signature and timestamp and nonce and serial):
            raise MalformedNotification("missing Wechatpay-* headers")
        if h.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise MalformedNotification(f"unsupported signature type {h.get('wechatpay-signature-type')!r}")
        try:
            text = body.decode("utf-8")
            sent_at = int(timestamp)
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedNotification("undecodable body or timestamp") from exc

        certificate = self._trusted_certificate(serial)
        if not rsa_verify(timestamp, nonce, text, signature, certificate.public_key()):
            raise ForgedSignature("Wechatpay-Signature does not verify against the platform certificate")
        # Checked after the signature so that the signed timestamp, not a forged one, decides.
        age = self._clock().timestamp() - sent_at
        if abs(age) > self._max_age:
            raise StaleNotification(f"Wechatpay-Timestamp is {int(age)}s old (window {self._max_age}s)")

        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
            if envelope.get("resource_type") != "encrypt-resource" or resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise MalformedNotification("resource is not AEAD_AES_256_GCM")
            plain = aes_decrypt(
                nonce=resource["nonce"],
                ciphertext=resource["ciphertext"],
                associated_data=resource.get("associated_data") or "",
                apiv3_key=self._apiv3_key,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedNotification(f"bad notification envelope: {exc}") from exc
        if plain is None:
            # Signed by the platform but not decryptable with our APIv3 key: not for us.
            raise WrongMerchant("resource does not decrypt with our APIv3 key")
        try:
            data = json.loads(plain)
            return self._normalize(envelope, data)
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedNotification(f"bad notification resource: {exc}") from exc

    def _trusted_certificate(self, serial: str) -> x509.Certificate:
        """The platform certificate the serial names, among those the SDK holds (config + rotations)."""
        try:
            wanted = int(serial, 16)
        except ValueError as exc:
            raise UnknownCertificate(f"Wechatpay-Serial {serial!r} is not a serial number") from exc
        for cert in self._sdk._core._certificates:
            if cert.serial_number == wanted:
                now = self._clock()
                if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                    raise UnknownCertificate(f"platform certificate {serial} is not valid now")
                return cert
        raise UnknownCertificate(f"Wechatpay-Serial {serial} is not a platform certificate we trust")

    def _normalize(self, envelope: dict[str, Any], data: dict[str, Any]) -> Notification:
        event = str(envelope.get("event_type", ""))
        if data.get("mchid") != self._mchid:
            raise WrongMerchant(f"notification for mchid {data.get('mchid')!r}")
        amount = data["amount"]
        if event.startswith("TRANSACTION."):
            if data.get("appid") != self._appid:
                raise WrongMerchant(f"notification for appid {data.get('appid')!r}")
            state = TRADE_STATES.get(str(data.get("trade_state")))
            if state is None:
                raise MalformedNotification(f"unknown trade_state {data.get('trade_state')!r}")
            success_time = data.get("success_time")
            return Notification(
                provider=self.provider,
                kind=NotificationKind.PAYMENT,
                out_trade_no=str(data["out_trade_no"]),
                provider_trade_no=str(data["transaction_id"]),
                amount_fen=parse_fen(amount["total"]),
                status=state,
                paid_at=parse_rfc3339(success_time) if success_time else None,
                notification_id=str(envelope.get("id", "")),
                refund=None,
                raw={"envelope": envelope, "resource": data},
            )
        if event.startswith("REFUND."):
            refund_state = REFUND_STATES.get(str(data.get("refund_status")))
            if refund_state is None:
                raise MalformedNotification(f"unknown refund_status {data.get('refund_status')!r}")
            success_time = data.get("success_time")
            return Notification(
                provider=self.provider,
                kind=NotificationKind.REFUND,
                out_trade_no=str(data["out_trade_no"]),
                provider_trade_no=str(data["transaction_id"]),
                amount_fen=parse_fen(amount["total"]),
                status=TradeStatus.REFUNDED if refund_state is RefundStatus.SUCCESS else TradeStatus.PAID,
                paid_at=None,
                notification_id=str(envelope.get("id", "")),
                refund=RefundInfo(
                    out_refund_no=str(data["out_refund_no"]),
                    provider_refund_id=str(data["refund_id"]),
                    refund_fen=parse_fen(amount["refund"]),
                    status=refund_state,
                    succeeded_at=parse_rfc3339(success_time) if success_time else None,
                ),
                raw={"envelope": envelope, "resource": data},
            )
        raise MalformedNotification(f"unknown event_type {event!r}")

    def success_reply(self) -> NotificationReply:
        # "接收成功：HTTP应答状态码需返回200或204，无需返回应答报文"
        return NotificationReply(204, b"", "text/plain")

    def failure_reply(self, message: str = "") -> NotificationReply:
        body = json.dumps({"code": "FAIL", "message": message or "失败"}, ensure_ascii=False).encode()
        return NotificationReply(500, body, "application/json")

    # ------------------------------------------------------------ statements

    def download_statement(self, bill_date: date) -> Statement:
        status, body = self._call(self._sdk.trade_bill, bill_date=bill_date.isoformat(), bill_type="ALL")
        if status != 200:
            raise self._rejected(status, body)
        meta = self._json(body)
        url, hash_type, hash_value = meta.get("download_url"), meta.get("hash_type"), meta.get("hash_value")
        if not url or hash_type != "SHA1" or not hash_value:
            raise ProviderError("WeChat Pay trade bill answer lacks download_url/hash")
        status, content = self._call(self._sdk.download_bill, url)
        if status != 200 or not isinstance(content, bytes):
            raise self._rejected(status, content)
        raw = gzip.decompress(content) if content[:2] == b"\x1f\x8b" else content
        # The file itself is not signed: its SHA1 comes from the signed tradebill answer.
        if hashlib.sha1(raw, usedforsecurity=False).hexdigest() != str(hash_value).lower():
            raise ResponseNotTrusted("WeChat Pay bill does not match its signed SHA1")
        return self.parse_statement(raw, bill_date)

    @staticmethod
    def parse_statement(raw: bytes, bill_date: date) -> Statement:
        try:
            return _parse_statement(raw, bill_date)
        except (ValueError, KeyError, IndexError, csv.Error) as exc:  # UnicodeDecodeError is a ValueError
            raise ProviderError(f"unreadable WeChat Pay statement: {exc}") from exc


def _parse_statement(raw: bytes, bill_date: date) -> Statement:
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    if not rows or "商户订单号" not in rows[0]:
        raise ProviderError("not a WeChat Pay trade bill")
    header = rows[0]
    entries: list[StatementEntry] = []
    summary: list[str] | None = None
    for i, row in enumerate(rows[1:], start=1):
        if row and row[0] == BILL_SUMMARY_HEADER:
            summary = [v.lstrip("`") for v in rows[i + 1]]
            break
        record = dict(zip(header, (v.lstrip("`") for v in row), strict=True))
        occurred_at = datetime.strptime(record["交易时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
        if record["交易状态"] == "REFUND":
            entries.append(
                StatementEntry(
                    kind=NotificationKind.REFUND,
                    out_trade_no=record["商户订单号"],
                    provider_trade_no=record["微信订单号"],
                    amount_fen=yuan_to_fen(record["申请退款金额"]),
                    occurred_at=occurred_at,
                    out_refund_no=record["商户退款单号"],
                    provider_refund_id=record["微信退款单号"],
                )
            )
        elif record["交易状态"] == "SUCCESS":
            entries.append(
                StatementEntry(
                    kind=NotificationKind.PAYMENT,
                    out_trade_no=record["商户订单号"],
                    provider_trade_no=record["微信订单号"],
                    amount_fen=yuan_to_fen(record["订单金额"]),
                    occurred_at=occurred_at,
                )
            )
    if summary is None:
        raise ProviderError("WeChat Pay bill has no summary")
    statement = Statement(Provider.WECHAT, bill_date, tuple(entries), raw)
    # The summary: 总交易单数,应结订单总金额,退款总金额,...,订单总金额,申请退款总金额
    if int(summary[0]) != len(entries) or yuan_to_fen(summary[5]) != statement.paid_fen:
        raise AmountMismatch("WeChat Pay bill summary disagrees with its lines")
    if yuan_to_fen(summary[6]) != statement.refunded_fen:
        raise AmountMismatch("WeChat Pay bill refund summary disagrees with its lines")
    return statement
