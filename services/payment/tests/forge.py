"""Notifications made in the tests, each in its provider's real format.

`genuine(...)` signs with the sandbox's TEST provider keys, as the provider would: the content is
whatever the test says (a wrong amount, another merchant, an old timestamp, an order we never
made), and only our checks stand between it and a payment. `forged(...)` is a genuine one
tampered with after signing.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from services.payment.providers.alipay import alipay_time
from services.payment.providers.base import CST, fen_to_yuan
from services.payment.providers.unionpay import TXN_CONSUME, TXN_REFUND, acp_time
from services.payment.providers.wechat import rfc3339
from services.payment.sandbox import alipay as alipay_sandbox
from services.payment.sandbox import unionpay as unionpay_sandbox
from services.payment.sandbox import wechat as wechat_sandbox
from services.payment.sandbox.keys import SandboxKeys

Request = tuple[dict[str, str], bytes]  # headers, body


@dataclass(frozen=True)
class Payment:
    provider: str
    order_no: str
    amount_fen: int
    created_at: datetime  # aware: UnionPay's txnTime
    trade_no: str = ""
    closed: bool = False  # a 'closed without payment' notification (Alipay TRADE_CLOSED)
    merchant: str = ""  # another merchant/app id than ours
    age_seconds: int = 0  # how old the signed timestamp is


@dataclass(frozen=True)
class Refund:
    provider: str
    order_no: str
    refund_no: str
    amount_fen: int
    trade_no: str
    requested_at: datetime


def _trade_no(provider: str) -> str:
    return {"wechat": "4200", "alipay": "2024", "unionpay": ""}[provider] + f"{secrets.randbelow(10**18):018d}"


def genuine(keys: SandboxKeys, p: Payment) -> Request:
    """A payment notification signed with the provider's (sandbox) key."""
    now = datetime.now(UTC) - timedelta(seconds=p.age_seconds)
    trade_no = p.trade_no or _trade_no(p.provider)
    if p.provider == "wechat":
        resource = {
            "appid": keys.ids["wechat_appid"],
            "mchid": p.merchant or keys.ids["wechat_mchid"],
            "out_trade_no": p.order_no,
            "transaction_id": trade_no,
            "trade_type": "NATIVE",
            "trade_state": "CLOSED" if p.closed else "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": rfc3339(now),
            "payer": {"openid": wechat_sandbox.PAYER},
            "amount": {"total": p.amount_fen, "payer_total": p.amount_fen, "currency": "CNY", "payer_currency": "CNY"},
        }
        text = wechat_sandbox.notification_text(keys, "TRANSACTION.SUCCESS", "transaction", resource)
        headers = {
            "Content-Type": "application/json",
            **wechat_sandbox.signature_headers(keys, text, int(now.timestamp())),
        }
        return headers, text.encode()
    if p.provider == "alipay":
        params = {
            "notify_time": alipay_time(now),
            "notify_type": "trade_status_sync",
            "notify_id": uuid.uuid4().hex,
            "charset": "utf-8",
            "version": "1.0",
            "app_id": p.merchant or keys.ids["alipay_app_id"],
            "auth_app_id": p.merchant or keys.ids["alipay_app_id"],
            "seller_id": keys.ids["alipay_seller_id"],
            "out_trade_no": p.order_no,
            "trade_no": trade_no,
            "subject": "报名费",
            "trade_status": "TRADE_CLOSED" if p.closed else "TRADE_SUCCESS",
            "total_amount": fen_to_yuan(p.amount_fen),
            "receipt_amount": fen_to_yuan(p.amount_fen),
            "gmt_create": alipay_time(p.created_at),
            "gmt_payment": alipay_time(now),
            **alipay_sandbox.BUYER,
        }
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, alipay_sandbox.signed_notification(
            keys, params
        )
    local = now.astimezone(CST)
    fields = {
        "txnType": TXN_CONSUME,
        "txnSubType": "01",
        "bizType": "000201",
        "orderId": p.order_no,
        "txnTime": acp_time(p.created_at),
        "txnAmt": str(p.amount_fen),
        "currencyCode": "156",
        "queryId": trade_no,
        "respCode": "00",
        "respMsg": "成功[0000000]",
        "traceNo": f"{secrets.randbelow(10**6):06d}",
        "traceTime": local.strftime("%m%d%H%M%S"),
        "settleDate": local.strftime("%m%d"),
    }
    if p.merchant:
        fields["merId"] = p.merchant  # overrides ours inside the signed message
    message = unionpay_sandbox.signed_message(keys, fields)
    return {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}, urlencode(message).encode()


def genuine_refund(keys: SandboxKeys, r: Refund) -> Request:
    """A refund-succeeded notification signed with the provider's (sandbox) key."""
    now = datetime.now(UTC)
    if r.provider == "wechat":
        resource = {
            "mchid": keys.ids["wechat_mchid"],
            "transaction_id": r.trade_no,
            "out_trade_no": r.order_no,
            "refund_id": "5030" + f"{secrets.randbelow(10**18):018d}",
            "out_refund_no": r.refund_no,
            "refund_status": "SUCCESS",
            "success_time": rfc3339(now),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": r.amount_fen,
                "refund": r.amount_fen,
                "payer_total": r.amount_fen,
                "payer_refund": r.amount_fen,
            },
        }
        text = wechat_sandbox.notification_text(keys, "REFUND.SUCCESS", "refund", resource)
        return {"Content-Type": "application/json", **wechat_sandbox.signature_headers(keys, text)}, text.encode()
    if r.provider == "alipay":
        params = {
            "notify_time": alipay_time(now),
            "notify_type": "trade_status_sync",
            "notify_id": uuid.uuid4().hex,
            "charset": "utf-8",
            "version": "1.0",
            "app_id": keys.ids["alipay_app_id"],
            "auth_app_id": keys.ids["alipay_app_id"],
            "seller_id": keys.ids["alipay_seller_id"],
            "out_trade_no": r.order_no,
            "trade_no": r.trade_no,
            "out_biz_no": r.refund_no,
            "trade_status": "TRADE_CLOSED",
            "total_amount": fen_to_yuan(r.amount_fen),
            "refund_fee": fen_to_yuan(r.amount_fen),
            "gmt_refund": alipay_time(now),
            **alipay_sandbox.BUYER,
        }
        return {"Content-Type": "application/x-www-form-urlencoded"}, alipay_sandbox.signed_notification(keys, params)
    local = now.astimezone(CST)
    fields = {
        "txnType": TXN_REFUND,
        "txnSubType": "00",
        "bizType": "000201",
        "orderId": r.refund_no,
        "origQryId": r.trade_no,
        "txnTime": acp_time(r.requested_at),
        "txnAmt": str(r.amount_fen),
        "currencyCode": "156",
        "queryId": f"{secrets.randbelow(10**21):021d}",
        "respCode": "00",
        "respMsg": "成功[0000000]",
        "reqReserved": r.order_no,
        "traceNo": f"{secrets.randbelow(10**6):06d}",
        "traceTime": local.strftime("%m%d%H%M%S"),
        "settleDate": local.strftime("%m%d"),
    }
    return {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(
        unionpay_sandbox.signed_message(keys, fields)
    ).encode()


def forged(request: Request, provider: str) -> Request:
    """The same notification with its amount changed after signing (an attacker's edit)."""
    headers, body = request
    if provider == "wechat":
        envelope = json.loads(body)
        envelope["summary"] = "支付成功！"  # any change of the signed text breaks the signature
        return headers, json.dumps(envelope, ensure_ascii=False).encode()
    params = dict(parse_qsl(body.decode()))
    if provider == "alipay":
        params["total_amount"] = "0.01"
    else:
        params["txnAmt"] = "1"
    return headers, urlencode(params).encode()
