"""The WeChat Pay API v3 stand-in: same paths, JSON, signatures and notifications as api.mch.weixin.qq.com.

Requests must carry a valid WECHATPAY2-SHA256-RSA2048 Authorization by our API key; every
answer is signed with the platform key (Wechatpay-* headers); notifications are re-signed on
each attempt (a fresh Wechatpay-Timestamp, as the 5-minute window requires) and carry the
resource encrypted with AEAD_AES_256_GCM under the APIv3 key.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import re
import secrets
import time
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Blueprint, Response, request
from wechatpayv3.utils import rsa_sign

from services.payment.providers.base import CST, fen_to_yuan
from services.payment.providers.wechat import SIGNATURE_TYPE, rfc3339
from services.payment.sandbox import pages
from services.payment.sandbox.state import Order, Refund, now_utc

if TYPE_CHECKING:
    from services.payment.sandbox.app import Sandbox
    from services.payment.sandbox.keys import SandboxKeys

PREFIX = "/wechat"
PAYER = "oSandboxPayer0000000000000001"
AUTH_FIELDS = re.compile(r'(\w+)="([^"]*)"')
BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)
BILL_SUMMARY = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"


def signature_headers(keys: SandboxKeys, text: str, timestamp: int | None = None) -> dict[str, str]:
    """The platform's Wechatpay-* headers over an answer or notification body."""
    stamp, nonce = str(int(time.time()) if timestamp is None else timestamp), secrets.token_hex(16).upper()
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": keys.ids["wechat_platform_serial"],
        "Wechatpay-Signature": rsa_sign(keys.wechat_platform_key, f"{stamp}\n{nonce}\n{text}\n"),
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def _answer(sb: Sandbox, status: int, data: dict[str, Any] | None = None) -> Response:
    text = json.dumps(data, ensure_ascii=False) if data is not None else ""
    headers = signature_headers(sb.keys, text)
    return Response(text, status=status, headers=headers, content_type="application/json; charset=utf-8")


def _error(sb: Sandbox, status: int, code: str, message: str) -> Response:
    return _answer(sb, status, {"code": code, "message": message})


def _authorization_error(sb: Sandbox) -> str:
    """Why our request's Authorization is not valid, or '' when it is."""
    scheme, _, rest = request.headers.get("Authorization", "").partition(" ")
    if scheme != SIGNATURE_TYPE:
        return "unsupported authorization scheme"
    fields = dict(AUTH_FIELDS.findall(rest))
    if fields.get("mchid") != sb.keys.ids["wechat_mchid"]:
        return "mchid does not match the certificate"
    if fields.get("serial_no", "").upper() != sb.keys.ids["wechat_merchant_serial"].upper():
        return "serial_no is not the merchant's API certificate"
    try:
        if abs(time.time() - int(fields.get("timestamp", ""))) > 300:
            return "timestamp expired"
        signature = base64.b64decode(fields.get("signature", ""), validate=True)
    except ValueError:
        return "malformed timestamp or signature"
    path = request.path.removeprefix(PREFIX)
    if request.query_string:
        path += "?" + request.query_string.decode()
    message = f"{request.method}\n{path}\n{fields['timestamp']}\n{fields.get('nonce_str', '')}\n"
    message += request.get_data(as_text=True) + "\n"
    try:
        sb.keys.wechat_merchant_cert.public_key().verify(  # type: ignore[call-arg]
            signature, message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return "signature does not verify"
    return ""


def _transaction(sb: Sandbox, order: Order) -> dict[str, Any]:
    states = {"NOTPAY": "NOTPAY", "CLOSED": "CLOSED", "SUCCESS": "REFUND" if order.refunds else "SUCCESS"}
    data: dict[str, Any] = {
        "appid": sb.keys.ids["wechat_appid"],
        "mchid": sb.keys.ids["wechat_mchid"],
        "out_trade_no": order.out_trade_no,
        "trade_state": states[order.status],
        "trade_state_desc": {"NOTPAY": "未支付", "CLOSED": "已关闭"}.get(order.status, "支付成功"),
        "attach": "",
    }
    if order.status == "SUCCESS":
        data.update(
            transaction_id=order.trade_no,
            trade_type="NATIVE",
            bank_type="OTHERS",
            success_time=rfc3339(order.paid_at or now_utc()),
            payer={"openid": PAYER},
            amount={
                "total": order.amount_fen,
                "payer_total": order.amount_fen,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        )
    else:
        data["amount"] = {"total": order.amount_fen, "currency": "CNY"}
    return data


def _refund_json(order: Order, refund: Refund) -> dict[str, Any]:
    data: dict[str, Any] = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": order.trade_no,
        "out_trade_no": order.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339(refund.created_at),
        "status": refund.status,
        "amount": {
            "total": order.amount_fen,
            "refund": refund.amount_fen,
            "payer_total": order.amount_fen,
            "payer_refund": refund.amount_fen,
            "currency": "CNY",
        },
    }
    if refund.succeeded_at:
        data["success_time"] = rfc3339(refund.succeeded_at)
    return data


def notification_text(keys: SandboxKeys, event: str, kind: str, resource: dict[str, Any]) -> str:
    """A notification body: the resource encrypted with AEAD_AES_256_GCM under the APIv3 key."""
    nonce = secrets.token_hex(6)  # 12 ASCII characters, as WeChat's resource nonces
    associated = kind
    key = keys.ids["wechat_apiv3_key"].encode()
    ciphertext = AESGCM(key).encrypt(
        nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), associated.encode()
    )
    envelope = {
        "id": str(uuid.uuid4()),
        "create_time": rfc3339(now_utc()),
        "resource_type": "encrypt-resource",
        "event_type": event,
        "summary": "支付成功" if kind == "transaction" else "退款成功",
        "resource": {
            "original_type": kind,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": associated,
            "nonce": nonce,
        },
    }
    return json.dumps(envelope, ensure_ascii=False)


def _notify(sb: Sandbox, order: Order, url: str, event: str, kind: str, resource: dict[str, Any]) -> None:
    """Encrypt the resource once; sign each attempt afresh (the same notification id each time)."""
    text = notification_text(sb.keys, event, kind, resource)

    def build() -> tuple[dict[str, str], bytes]:
        return {"Content-Type": "application/json", **signature_headers(sb.keys, text)}, text.encode()

    sb.state.deliver(
        "wechat",
        url,
        "payment" if kind == "transaction" else "refund",
        order.out_trade_no,
        build,
        lambda r: r.status_code in (200, 204),
    )


def pay(sb: Sandbox, order: Order, notify: bool = True) -> None:
    order.status, order.trade_no, order.paid_at = "SUCCESS", sb.state.trade_no("4200"), now_utc()
    if notify:
        resource = _transaction(sb, order)
        _notify(sb, order, order.notify_url, "TRANSACTION.SUCCESS", "transaction", resource)


def _complete_refund(sb: Sandbox, order: Order, refund: Refund) -> None:
    with sb.state.lock:
        refund.status, refund.succeeded_at = "SUCCESS", now_utc()
    if refund.notify_url:
        resource = {
            "mchid": sb.keys.ids["wechat_mchid"],
            "transaction_id": order.trade_no,
            "out_trade_no": order.out_trade_no,
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "refund_status": "SUCCESS",
            "success_time": rfc3339(refund.succeeded_at or now_utc()),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": order.amount_fen,
                "refund": refund.amount_fen,
                "payer_total": order.amount_fen,
                "payer_refund": refund.amount_fen,
            },
        }
        _notify(sb, order, refund.notify_url, "REFUND.SUCCESS", "refund", resource)


def statement(sb: Sandbox, bill_date: date) -> bytes:
    """The day's trade bill (bill_type ALL) in WeChat's CSV format: backquoted values, a summary."""
    ids = sb.keys.ids
    rows: list[list[str]] = []
    paid_total = refund_total = 0

    def day(moment: datetime | None) -> bool:
        return moment is not None and moment.astimezone(CST).date() == bill_date

    with sb.state.lock:
        orders = [o for o in sb.state.orders.values() if o.provider == "wechat"]
        for o in orders:
            common = [ids["wechat_appid"], ids["wechat_mchid"], "0", "", o.trade_no, o.out_trade_no]
            if day(o.paid_at):
                assert o.paid_at is not None
                paid_total += o.amount_fen
                yuan = fen_to_yuan(o.amount_fen)
                when = o.paid_at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
                money = [yuan, "0.00", "0", "0", "0.00", "0.00", "", "", o.description, "", "0.00000", "0.60%"]
                rows.append([when, *common, PAYER, "NATIVE", "SUCCESS", "OTHERS", "CNY", *money, yuan, "0.00", ""])
            for r in o.refunds.values():
                if r.status == "SUCCESS" and day(r.succeeded_at):
                    assert r.succeeded_at is not None
                    refund_total += r.amount_fen
                    yuan = fen_to_yuan(r.amount_fen)
                    when = r.succeeded_at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
                    money = ["0.00", "0.00", r.refund_id, r.out_refund_no, yuan, "0.00", "ORIGINAL", "SUCCESS"]
                    fees = [o.description, "", "0.00000", "0.60%", "0.00", yuan, ""]
                    rows.append([when, *common, PAYER, "NATIVE", "REFUND", "OTHERS", "CNY", *money, *fees])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BILL_HEADER.split(","))
    for row in rows:
        writer.writerow("`" + v for v in row)
    writer.writerow(BILL_SUMMARY.split(","))
    totals = [str(len(rows)), fen_to_yuan(paid_total), fen_to_yuan(refund_total), "0.00", "0.00000"]
    writer.writerow("`" + v for v in [*totals, fen_to_yuan(paid_total), fen_to_yuan(refund_total)])
    return out.getvalue().encode("utf-8")


def blueprint(sb: Sandbox) -> Blueprint:
    bp = Blueprint("wechat", __name__, url_prefix=PREFIX)
    bills: dict[str, tuple[bytes, bool]] = {}

    @bp.before_request
    def authenticate() -> Response | None:
        if not request.path.startswith(PREFIX + "/v3/"):
            return None  # the pay page is the payer's browser, not our server
        problem = _authorization_error(sb)
        if problem:
            return _error(sb, 401, "SIGN_ERROR", problem)
        return None

    @bp.post("/v3/pay/transactions/native")
    def native() -> Response:
        body = request.get_json(silent=True) or {}
        ids = sb.keys.ids
        if body.get("appid") != ids["wechat_appid"] or body.get("mchid") != ids["wechat_mchid"]:
            return _error(sb, 400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        amount = (body.get("amount") or {}).get("total")
        out_trade_no = body.get("out_trade_no")
        if not isinstance(amount, int) or amount <= 0 or not out_trade_no or not body.get("notify_url"):
            return _error(sb, 400, "PARAM_ERROR", "参数错误")
        try:
            expires_at = datetime.fromisoformat(body["time_expire"])
        except (KeyError, ValueError):
            return _error(sb, 400, "PARAM_ERROR", "time_expire格式错误")
        with sb.state.lock:
            order = sb.state.order("wechat", out_trade_no)
            if order is None:
                order = sb.state.add(
                    Order(
                        "wechat",
                        out_trade_no,
                        amount,
                        str(body.get("description", "")),
                        body["notify_url"],
                        expires_at,
                        now_utc(),
                    )
                )
            elif order.status == "SUCCESS":
                return _error(sb, 400, "ORDERPAID", "该订单已支付")
            elif order.amount_fen != amount or order.status == "CLOSED":
                return _error(sb, 400, "OUT_TRADE_NO_USED", "商户订单号重复")
        return _answer(sb, 200, {"code_url": f"{sb.public_url}{PREFIX}/pay/{order.token}"})

    @bp.get("/v3/pay/transactions/out-trade-no/<out_trade_no>")
    def query(out_trade_no: str) -> Response:
        order = sb.state.order("wechat", out_trade_no)
        if order is None or request.args.get("mchid") != sb.keys.ids["wechat_mchid"]:
            return _error(sb, 404, "ORDER_NOT_EXIST", "订单不存在")
        with sb.state.lock:
            if order.status == "NOTPAY" and order.expired(now_utc()):
                order.status = "CLOSED"
            return _answer(sb, 200, _transaction(sb, order))

    @bp.post("/v3/pay/transactions/out-trade-no/<out_trade_no>/close")
    def close(out_trade_no: str) -> Response:
        order = sb.state.order("wechat", out_trade_no)
        if order is None:
            return _error(sb, 404, "ORDER_NOT_EXIST", "订单不存在")
        with sb.state.lock:
            if order.status == "SUCCESS":
                return _error(sb, 400, "ORDERPAID", "该订单已支付")
            order.status = "CLOSED"
        return _answer(sb, 204)

    @bp.post("/v3/refund/domestic/refunds")
    def refund() -> Response:
        body = request.get_json(silent=True) or {}
        amount = body.get("amount") or {}
        order = sb.state.order("wechat", str(body.get("out_trade_no", "")))
        if order is None or order.status != "SUCCESS":
            return _error(sb, 404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
        refund_fen, total = amount.get("refund"), amount.get("total")
        out_refund_no = str(body.get("out_refund_no", ""))
        if not isinstance(refund_fen, int) or refund_fen <= 0 or total != order.amount_fen or not out_refund_no:
            return _error(sb, 400, "PARAM_ERROR", "退款金额或订单金额错误")
        with sb.state.lock:
            existing = order.refunds.get(out_refund_no)
            if existing is None:
                if order.refunded_fen + refund_fen > order.amount_fen:
                    return _error(sb, 403, "NOT_ENOUGH", "退款金额超过可退金额")
                existing = Refund(
                    out_refund_no,
                    sb.state.trade_no("5030"),
                    refund_fen,
                    now_utc(),
                    str(body.get("notify_url", "")),
                    str(body.get("reason", "")),
                )
                order.refunds[out_refund_no] = existing
                new = existing
                sb.state.later(1.0 * sb.state.retry_scale, lambda: _complete_refund(sb, order, new))
            return _answer(sb, 200, _refund_json(order, existing))

    @bp.get("/v3/refund/domestic/refunds/<out_refund_no>")
    def refund_query(out_refund_no: str) -> Response:
        with sb.state.lock:
            for order in sb.state.orders.values():
                if order.provider == "wechat" and out_refund_no in order.refunds:
                    return _answer(sb, 200, _refund_json(order, order.refunds[out_refund_no]))
        return _error(sb, 404, "RESOURCE_NOT_EXISTS", "退款单不存在")

    @bp.get("/v3/bill/tradebill")
    def trade_bill() -> Response:
        try:
            bill_date = date.fromisoformat(request.args.get("bill_date", ""))
        except ValueError:
            return _error(sb, 400, "PARAM_ERROR", "bill_date格式错误")
        raw = statement(sb, bill_date)
        sb.save_statement("wechat", f"{bill_date.isoformat()}_tradebill_ALL.csv", raw)
        token = secrets.token_urlsafe(16)
        bills[token] = (raw, request.args.get("tar_type") == "GZIP")
        return _answer(
            sb,
            200,
            {
                "hash_type": "SHA1",
                "hash_value": hashlib.sha1(raw, usedforsecurity=False).hexdigest(),
                "download_url": f"{sb.public_url}{PREFIX}/v3/billdownload/file?token={token}",
            },
        )

    @bp.get("/v3/billdownload/file")
    def bill_download() -> Response:
        found = bills.pop(request.args.get("token", ""), None)
        if found is None:
            return _error(sb, 404, "RESOURCE_NOT_EXISTS", "账单不存在")
        raw, zipped = found
        # Files are not signed (their SHA1 came in the signed tradebill answer).
        return Response(gzip.compress(raw) if zipped else raw, content_type="application/octet-stream")

    @bp.get("/v3/certificates")
    def certificates() -> Response:
        cert = sb.keys.wechat_platform_cert
        pem = (sb.state_dir / "provider" / "wechat_platform_cert.pem").read_text()
        nonce = secrets.token_hex(6)
        ciphertext = AESGCM(sb.keys.ids["wechat_apiv3_key"].encode()).encrypt(
            nonce.encode(), pem.encode(), b"certificate"
        )
        return _answer(
            sb,
            200,
            {
                "data": [
                    {
                        "serial_no": sb.keys.ids["wechat_platform_serial"],
                        "effective_time": rfc3339(cert.not_valid_before_utc),
                        "expire_time": rfc3339(cert.not_valid_after_utc),
                        "encrypt_certificate": {
                            "algorithm": "AEAD_AES_256_GCM",
                            "nonce": nonce,
                            "associated_data": "certificate",
                            "ciphertext": base64.b64encode(ciphertext).decode(),
                        },
                    }
                ]
            },
        )

    @bp.get("/pay/<token>")
    def pay_page(token: str) -> tuple[str, int]:
        order = sb.state.by_token(token)
        if order is None or order.provider != "wechat":
            return pages.error("二维码无效"), 404
        action = f"{sb.public_url}{PREFIX}/pay/{token}"
        return pages.cashier("wechat", order.out_trade_no, order.amount_fen, order.description, action), 200

    @bp.post("/pay/<token>")
    def pay_action(token: str) -> tuple[str, int]:
        order = sb.state.by_token(token)
        if order is None or order.provider != "wechat":
            return pages.error("二维码无效"), 404
        problem = sb.pay(order)
        if problem:
            return pages.error(problem), 409
        return pages.paid("wechat", order.out_trade_no, ""), 200

    return bp
