"""UnionPay online gateway payment (全渠道 ACP, version 5.1.0, signMethod 01), hand-written.

No maintained Python SDK exists, so this follows UnionPay's own acpsdk (Java) with
`cryptography` primitives:
- signing string: the message's fields sorted by name, "k=v" joined by "&", without `signature`;
- signature: SHA256withRSA over the lowercase hex SHA-256 digest of that string, base64;
- our requests carry certId = the serial (decimal) of our signing certificate (from our .pfx);
- UnionPay's messages carry signPubKeyCert: it must chain to UnionPay's middle and root
  certificates (configured files), be valid now, and its CN's third "@" part must be the
  owner "中国银联股份有限公司" before its key is used to verify the signature;
- synchronous answers are raw "k=v&..." text (not URL-encoded; values may contain {...}),
  back notifications are urlencoded forms; the merchant acknowledges with HTTP 200 ("ok").
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
import zlib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from services.payment.providers.base import (
    CST,
    Clock,
    CloseOutcome,
    ForgedSignature,
    MalformedNotification,
    Notification,
    NotificationKind,
    NotificationRejected,
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
    Statement,
    StatementEntry,
    TradeQuery,
    TradeStatus,
    UnknownCertificate,
    WrongMerchant,
    parse_fen,
    utc_now,
)
from services.payment.providers.config import PaymentProviderSettings, read_file, require

VERSION = "5.1.0"
SIGN_METHOD_RSA = "01"
FRONT_PATH = "/gateway/api/frontTransReq.do"
BACK_PATH = "/gateway/api/backTransReq.do"
QUERY_PATH = "/gateway/api/queryTrans.do"
TIME_FORMAT = "%Y%m%d%H%M%S"
SUCCESS_CODES = ("00", "A6")  # A6: success with some fields missing (documented as success)
PROCESSING_CODES = ("03", "04", "05")  # outcome unknown yet: query again later
NOT_FOUND_CODE = "34"  # 查无此交易
TXN_CONSUME, TXN_REFUND, TXN_QUERY, TXN_FILE = "01", "04", "00", "76"
# ZM statement file: fixed-width fields, one space apart (《全渠道平台接入接口规范 第3部分 文件接口》 6.1).
ZM_WIDTHS = (
    *(3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2),
    *(6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98),
)
ZM_TRACE_TIME, ZM_AMOUNT, ZM_QUERY_ID, ZM_ORDER_ID, ZM_TXN_TYPE, ZM_ORIG_QUERY_ID, ZM_ORIG_ORDER_ID = (
    4,
    6,
    9,
    11,
    19,
    26,
    40,
)


# ---------------------------------------------------------------- the ACP message primitives


def signing_string(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")


def _digest_hex(params: Mapping[str, str]) -> bytes:
    return hashlib.sha256(signing_string(params).encode("utf-8")).hexdigest().encode("ascii")


def sign(params: Mapping[str, str], key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(_digest_hex(params), padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def verify(params: Mapping[str, str], public_key: Any) -> bool:
    try:
        signature = base64.b64decode(params.get("signature", ""), validate=True)
        public_key.verify(signature, _digest_hex(params), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def parse_raw_message(text: str) -> dict[str, str]:
    """A synchronous answer: 'k=v&k=v' with no URL encoding, where a value in {...} or [...] may hold '&'."""
    result: dict[str, str] = {}
    depth, start = 0, 0
    text = text.strip()
    for i, ch in enumerate(text + "&"):
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth = max(depth - 1, 0)
        elif ch == "&" and depth == 0:
            part = text[start:i]
            start = i + 1
            if not part:
                continue
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise ValueError(f"not a key=value pair: {part[:40]!r}")
            result[key] = value
    return result


def format_raw_message(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


def cert_owner(cert: x509.Certificate) -> str:
    """The owner part of a UnionPay certificate CN ("...@...@OWNER@..."), as acpsdk reads it."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    parts = str(names[0].value).split("@") if names else []
    return parts[2] if len(parts) > 2 else ""


def acp_time(moment: datetime) -> str:
    return moment.astimezone(CST).strftime(TIME_FORMAT)


def parse_acp_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CST)


def trace_time(trace: str, reference: datetime) -> datetime:
    """traceTime is MMDDhhmmss: take the year of the reference moment, or the one before it."""
    reference = reference.astimezone(CST)
    moment = datetime.strptime(f"{reference.year}{trace}", TIME_FORMAT).replace(tzinfo=CST)
    return moment.replace(year=moment.year - 1) if moment - reference > timedelta(days=1) else moment


class UnionPayClient(ProviderClient):
    provider = Provider.UNIONPAY

    def __init__(self, settings: PaymentProviderSettings, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._mer_id = require("unionpay_mer_id", settings.unionpay_mer_id)
        self._base = require("unionpay_base_url", settings.unionpay_base_url).rstrip("/")
        self._file_url = require("unionpay_file_url", settings.unionpay_file_url)
        self._timeout = settings.http_timeout_seconds
        self._owner = settings.unionpay_cert_owner
        pfx = read_file("unionpay_sign_cert_file", settings.unionpay_sign_cert_file)
        password = settings.unionpay_sign_cert_password.encode() or None
        try:
            key, cert, _ = pkcs12.load_key_and_certificates(pfx, password)
        except ValueError as exc:
            raise ProviderConfigError(f"PAYMENT_UNIONPAY_SIGN_CERT_FILE: cannot open the PKCS#12 file: {exc}") from exc
        if not isinstance(key, rsa.RSAPrivateKey) or cert is None:
            raise ProviderConfigError("PAYMENT_UNIONPAY_SIGN_CERT_FILE must hold an RSA key and its certificate")
        self._key = key
        self._cert_id = str(cert.serial_number)
        self._root = x509.load_pem_x509_certificate(
            read_file("unionpay_root_cert_file", settings.unionpay_root_cert_file)
        )
        self._middle = x509.load_pem_x509_certificate(
            read_file("unionpay_middle_cert_file", settings.unionpay_middle_cert_file)
        )

    # ------------------------------------------------------------ messages

    def _signed(self, fields: Mapping[str, str]) -> dict[str, str]:
        params = {
            "version": VERSION,
            "encoding": "UTF-8",
            "signMethod": SIGN_METHOD_RSA,
            "accessType": "0",
            "merId": self._mer_id,
            "certId": self._cert_id,
            **{k: v for k, v in fields.items() if v != ""},
        }
        params["signature"] = sign(params, self._key)
        return params

    def validate(self, params: Mapping[str, str]) -> None:
        """Check a UnionPay message's certificate chain, owner and signature; raise a rejection."""
        if params.get("signMethod") != SIGN_METHOD_RSA or params.get("version") != VERSION:
            raise MalformedNotification("not a version 5.1.0 / signMethod 01 message")
        if not params.get("signature") or not params.get("signPubKeyCert"):
            raise MalformedNotification("no signature or signPubKeyCert")
        try:
            cert = x509.load_pem_x509_certificate(params["signPubKeyCert"].encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise MalformedNotification("signPubKeyCert is not a PEM certificate") from exc
        now = self._clock()
        try:
            cert.verify_directly_issued_by(self._middle)
            self._middle.verify_directly_issued_by(self._root)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise UnknownCertificate("signPubKeyCert does not chain to UnionPay's root") from exc
        for c in (cert, self._middle):
            if not c.not_valid_before_utc <= now <= c.not_valid_after_utc:
                raise UnknownCertificate("a certificate of the signing chain is not valid now")
        if cert_owner(cert) != self._owner:
            raise UnknownCertificate(f"signing certificate belongs to {cert_owner(cert)!r}, not UnionPay")
        if not verify(params, cert.public_key()):
            raise ForgedSignature("signature does not verify against signPubKeyCert")

    def _post(self, url: str, fields: Mapping[str, str]) -> dict[str, str]:
        """A back-end request; the answer must be a validated message of our merchant."""
        try:
            response = requests.post(url, data=self._signed(fields), timeout=self._timeout)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"UnionPay unreachable: {exc}") from exc
        if response.status_code != 200:
            raise ProviderUnavailable(f"UnionPay answered HTTP {response.status_code}")
        try:
            answer = parse_raw_message(response.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ResponseNotTrusted(f"UnionPay answer unreadable: {exc}") from exc
        try:
            self.validate(answer)
        except NotificationRejected as exc:
            raise ResponseNotTrusted(f"UnionPay answer not trusted: {exc.message}") from exc
        if answer.get("merId") != self._mer_id:
            raise ResponseNotTrusted("UnionPay answered for another merchant")
        return answer

    @staticmethod
    def _rejected(answer: Mapping[str, str]) -> ProviderRequestRejected:
        return ProviderRequestRejected(
            f"UnionPay {answer.get('respCode')}: {answer.get('respMsg', '')}", code=answer.get("respCode", "")
        )

    # ------------------------------------------------------------ payments

    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        fields = self._signed(
            {
                "txnType": TXN_CONSUME,
                "txnSubType": "01",
                "bizType": "000201",  # B2C gateway payment
                "channelType": "07",  # PC
                "orderId": request.out_trade_no,
                "txnTime": acp_time(request.created_at),
                "payTimeout": acp_time(request.expires_at),
                "txnAmt": str(request.amount_fen),
                "currencyCode": "156",
                "frontUrl": request.return_url,
                "backUrl": request.notify_url,
                "riskRateInfo": "{commodityName=" + request.description + "}",
            }
        )
        return PaymentAction(self.provider, request.out_trade_no, "form", self._base + FRONT_PATH, form_fields=fields)

    def _query(self, order_id: str, txn_time: datetime) -> dict[str, str]:
        return self._post(
            self._base + QUERY_PATH,
            {
                "txnType": TXN_QUERY,
                "txnSubType": "00",
                "bizType": "000000",
                "orderId": order_id,
                "txnTime": acp_time(txn_time),
            },
        )

    def query(self, out_trade_no: str, *, created_at: datetime | None = None) -> TradeQuery:
        if created_at is None:
            raise ValueError("UnionPay queries need the order's created_at (its txnTime)")
        answer = self._query(out_trade_no, created_at)
        code = answer.get("respCode")
        if code == NOT_FOUND_CODE:
            return TradeQuery(self.provider, out_trade_no, TradeStatus.NOT_FOUND, raw=answer)
        if code != "00":
            raise self._rejected(answer)
        if answer.get("orderId") != out_trade_no:
            raise ResponseNotTrusted("UnionPay answered about another order")
        orig = answer.get("origRespCode", "")
        if orig in SUCCESS_CODES:
            status = TradeStatus.PAID
        elif orig in PROCESSING_CODES:
            status = TradeStatus.NOT_PAID
        else:
            status = TradeStatus.CLOSED  # ended without payment (UnionPay has no explicit close)
        return TradeQuery(
            self.provider,
            out_trade_no,
            status,
            provider_trade_no=answer.get("queryId", ""),
            amount_fen=parse_fen(answer["txnAmt"]) if answer.get("txnAmt") else None,
            paid_at=trace_time(answer["traceTime"], created_at) if status is TradeStatus.PAID else None,
            raw=answer,
        )

    def close(self, out_trade_no: str, *, created_at: datetime | None = None) -> CloseOutcome:
        """UnionPay has no close: the gateway order lapses at its payTimeout (our expires_at).

        Call this only after expires_at; it reports whether the order got paid before then.
        """
        result = self.query(out_trade_no, created_at=created_at)
        if result.status in (TradeStatus.PAID, TradeStatus.REFUNDED):
            return CloseOutcome.ALREADY_PAID
        if result.status is TradeStatus.NOT_FOUND:
            return CloseOutcome.NOT_FOUND
        return CloseOutcome.CLOSED

    # ------------------------------------------------------------ refunds

    def refund(self, request: RefundRequest) -> RefundResult:
        answer = self._post(
            self._base + BACK_PATH,
            {
                "txnType": TXN_REFUND,
                "txnSubType": "00",
                "bizType": "000201",
                "channelType": "07",
                "orderId": request.out_refund_no,
                "origQryId": request.provider_trade_no,
                "txnTime": acp_time(request.requested_at),
                "txnAmt": str(request.refund_fen),
                "currencyCode": "156",
                "backUrl": request.notify_url,
                # Echoed in the notification, the query and the statement: our payment's order.
                "reqReserved": request.out_trade_no,
            },
        )
        code = answer.get("respCode", "")
        if code not in ("00", *PROCESSING_CODES):
            raise self._rejected(answer)
        # Accepted: the outcome comes with the back notification (or the query).
        info = RefundInfo(request.out_refund_no, answer.get("queryId", ""), request.refund_fen, RefundStatus.PROCESSING)
        return RefundResult(self.provider, request.out_trade_no, info, raw=answer)

    def query_refund(
        self, out_refund_no: str, *, out_trade_no: str, requested_at: datetime | None = None
    ) -> RefundResult:
        if requested_at is None:
            raise ValueError("UnionPay refund queries need the refund's requested_at (its txnTime)")
        answer = self._query(out_refund_no, requested_at)
        code = answer.get("respCode")
        if code == NOT_FOUND_CODE:
            return RefundResult(self.provider, out_trade_no, RefundInfo(out_refund_no, "", 0, RefundStatus.NOT_FOUND))
        if code != "00":
            raise self._rejected(answer)
        orig = answer.get("origRespCode", "")
        if orig in SUCCESS_CODES:
            status = RefundStatus.SUCCESS
        elif orig in PROCESSING_CODES:
            status = RefundStatus.PROCESSING
        else:
            status = RefundStatus.FAILED
        info = RefundInfo(
            out_refund_no=out_refund_no,
            provider_refund_id=answer.get("queryId", ""),
            refund_fen=parse_fen(answer.get("txnAmt", "0")),
            status=status,
            succeeded_at=trace_time(answer["traceTime"], requested_at) if status is RefundStatus.SUCCESS else None,
        )
        return RefundResult(self.provider, out_trade_no, info, raw=answer)

    # ------------------------------------------------------------ notifications

    def parse_and_verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        try:
            pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True, errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedNotification("notification is not a urlencoded form") from exc
        params = dict(pairs)
        if len(params) != len(pairs):
            raise MalformedNotification("duplicate parameters")
        self.validate(params)
        if params.get("merId") != self._mer_id:
            raise WrongMerchant(f"notification for merId {params.get('merId')!r}")
        try:
            return self._normalize(params)
        except (KeyError, ValueError) as exc:
            raise MalformedNotification(f"bad notification field: {exc}") from exc

    def _normalize(self, params: dict[str, str]) -> Notification:
        txn_type = params["txnType"]
        succeeded = params["respCode"] in SUCCESS_CODES
        txn_time = parse_acp_time(params["txnTime"])
        moment = trace_time(params["traceTime"], txn_time) if succeeded and params.get("traceTime") else None
        if txn_type == TXN_CONSUME:
            return Notification(
                provider=self.provider,
                kind=NotificationKind.PAYMENT,
                out_trade_no=params["orderId"],
                provider_trade_no=params["queryId"],
                amount_fen=parse_fen(params["txnAmt"]),
                status=TradeStatus.PAID if succeeded else TradeStatus.FAILED,
                paid_at=moment,
                notification_id=f"{params['queryId']}:{params['respCode']}",
                refund=None,
                raw=params,
            )
        if txn_type == TXN_REFUND:
            if not params.get("reqReserved"):
                raise MalformedNotification("refund notification without our reqReserved (payment order)")
            return Notification(
                provider=self.provider,
                kind=NotificationKind.REFUND,
                out_trade_no=params["reqReserved"],
                provider_trade_no=params.get("origQryId", ""),
                amount_fen=None,
                status=TradeStatus.REFUNDED if succeeded else TradeStatus.PAID,
                paid_at=None,
                notification_id=f"{params['queryId']}:{params['respCode']}",
                refund=RefundInfo(
                    out_refund_no=params["orderId"],
                    provider_refund_id=params["queryId"],
                    refund_fen=parse_fen(params["txnAmt"]),
                    status=RefundStatus.SUCCESS if succeeded else RefundStatus.FAILED,
                    succeeded_at=moment,
                ),
                raw=params,
            )
        raise MalformedNotification(f"unexpected txnType {txn_type!r}")

    def success_reply(self) -> NotificationReply:
        # UnionPay treats HTTP 200 as received (acpsdk's demo answers "ok").
        return NotificationReply(200, b"ok", "text/plain")

    def failure_reply(self, message: str = "") -> NotificationReply:
        # Any other HTTP status makes UnionPay send the notification again.
        return NotificationReply(500, b"fail", "text/plain")

    # ------------------------------------------------------------ statements

    def download_statement(self, bill_date: date) -> Statement:
        answer = self._post(
            self._file_url,
            {
                "txnType": TXN_FILE,
                "txnSubType": "01",
                "bizType": "000000",
                "settleDate": bill_date.strftime("%m%d"),
                "txnTime": acp_time(self._clock()),
                "fileType": "00",
            },
        )
        if answer.get("respCode") != "00":
            raise self._rejected(answer)
        try:
            raw = zlib.decompress(base64.b64decode(answer["fileContent"]))
        except (KeyError, ValueError, zlib.error) as exc:
            raise ResponseNotTrusted(f"UnionPay fileContent unreadable: {exc}") from exc
        return self.parse_statement(raw, bill_date)

    @staticmethod
    def parse_statement(raw: bytes, bill_date: date) -> Statement:
        """The zip's ZM file (INN<yymmdd>88ZM_<merId>): one fixed-width line per transaction."""
        try:
            return _parse_statement(raw, bill_date)
        except (ValueError, KeyError, IndexError) as exc:  # UnicodeDecodeError is a ValueError
            raise ProviderError(f"unreadable UnionPay statement: {exc}") from exc


def _parse_statement(raw: bytes, bill_date: date) -> Statement:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = [n for n in archive.namelist() if "ZM_" in n and "ZME_" not in n]
            if len(names) != 1:
                raise ProviderError("UnionPay statement zip has no single ZM file")
            text = archive.read(names[0]).decode("latin-1")
    except zipfile.BadZipFile as exc:
        raise ProviderError("UnionPay statement is not a zip file") from exc
    reference = datetime(bill_date.year, bill_date.month, bill_date.day, 23, 59, 59, tzinfo=CST)
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields, at = [], 0
        for width in ZM_WIDTHS:
            fields.append(line[at : at + width].strip())
            at += width + 1
        amount = parse_fen(fields[ZM_AMOUNT])
        occurred_at = trace_time(fields[ZM_TRACE_TIME], reference)
        if fields[ZM_TXN_TYPE] == TXN_CONSUME:
            entries.append(
                StatementEntry(NotificationKind.PAYMENT, fields[ZM_ORDER_ID], fields[ZM_QUERY_ID], amount, occurred_at)
            )
        elif fields[ZM_TXN_TYPE] == TXN_REFUND:
            entries.append(
                StatementEntry(
                    NotificationKind.REFUND,
                    out_trade_no=fields[ZM_ORIG_ORDER_ID],
                    provider_trade_no=fields[ZM_ORIG_QUERY_ID],
                    amount_fen=amount,
                    occurred_at=occurred_at,
                    out_refund_no=fields[ZM_ORDER_ID],
                    provider_refund_id=fields[ZM_QUERY_ID],
                )
            )
    return Statement(Provider.UNIONPAY, bill_date, tuple(entries), raw)
