"""The UnionPay gateway stand-in (ACP 5.1.0): frontTransReq, backTransReq, queryTrans, file download.

Our requests are verified against the merchant certificate we registered (certId); answers
and back notifications are signed by the UnionPay signing key and carry its certificate
(signPubKeyCert), issued by the middle CA under the root, whose CN names 中国银联股份有限公司.
Answers are raw "k=v&..." text; notifications are urlencoded forms, resent until HTTP 200.
"""

from __future__ import annotations

import base64
import io
import secrets
import zipfile
import zlib
from datetime import date, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from services.payment.providers.base import CST
from services.payment.providers.unionpay import (
    FRONT_PATH,
    QUERY_PATH,
    SIGN_METHOD_RSA,
    TXN_CONSUME,
    TXN_FILE,
    TXN_QUERY,
    TXN_REFUND,
    VERSION,
    ZM_WIDTHS,
    format_raw_message,
    parse_acp_time,
    sign,
    verify,
)
from services.payment.sandbox import pages
from services.payment.sandbox.state import Order, Refund, now_utc

if TYPE_CHECKING:
    from services.payment.sandbox.app import Sandbox
    from services.payment.sandbox.keys import SandboxKeys

PREFIX = "/unionpay"
BACK_PATH = "/gateway/api/backTransReq.do"
OK = ("00", "成功[0000000]")


def _query_id() -> str:
    return now_utc().astimezone(CST).strftime("%y%m%d%H%M%S") + f"{secrets.randbelow(10**9):09d}"


def _trace(moment: datetime) -> dict[str, str]:
    local = moment.astimezone(CST)
    return {
        "traceNo": f"{secrets.randbelow(10**6):06d}",
        "traceTime": local.strftime("%m%d%H%M%S"),
        "settleDate": local.strftime("%m%d"),
    }


def signed_message(keys: SandboxKeys, fields: dict[str, str]) -> dict[str, str]:
    """A UnionPay message: common fields, signPubKeyCert, and the signature by UnionPay's key."""
    params = {
        "version": VERSION,
        "encoding": "UTF-8",
        "signMethod": SIGN_METHOD_RSA,
        "accessType": "0",
        "merId": keys.ids["unionpay_mer_id"],
        **{k: v for k, v in fields.items() if v != ""},
        "signPubKeyCert": keys.unionpay_sign_cert_pem,
    }
    params["signature"] = sign(params, keys.unionpay_sign_key)
    return params


def _answer(sb: Sandbox, request_params: dict[str, str], fields: dict[str, str]) -> Response:
    echoed = {k: request_params.get(k, "") for k in ("txnType", "txnSubType", "bizType", "orderId", "txnTime")}
    text = format_raw_message(signed_message(sb.keys, {**echoed, **fields}))
    return Response(text, content_type="text/plain; charset=UTF-8")


def _merchant_error(sb: Sandbox, params: dict[str, str]) -> str:
    """Why our request is not genuine, or ''."""
    cert = sb.keys.unionpay_merchant_cert
    if params.get("version") != VERSION or params.get("signMethod") != SIGN_METHOD_RSA:
        return "版本号或签名方法错误"
    if params.get("merId") != sb.keys.ids["unionpay_mer_id"]:
        return "商户号不存在"
    if params.get("certId") != str(cert.serial_number):
        return "证书ID不匹配"
    if not verify(params, cert.public_key()):
        return "验证签名失败"
    return ""


def _notify(sb: Sandbox, url: str, kind: str, out_trade_no: str, fields: dict[str, str]) -> None:
    body = urlencode(signed_message(sb.keys, fields)).encode()

    def build() -> tuple[dict[str, str], bytes]:
        return {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}, body

    sb.state.deliver("unionpay", url, kind, out_trade_no, build, lambda r: r.status_code == 200)


def pay(sb: Sandbox, order: Order, notify: bool = True) -> None:
    order.status, order.trade_no, order.paid_at = "SUCCESS", _query_id(), now_utc()
    order_trace = order.trace = _trace(order.paid_at)
    if notify:
        fields = {
            "txnType": TXN_CONSUME,
            "txnSubType": "01",
            "bizType": "000201",
            "orderId": order.out_trade_no,
            "txnTime": order.txn_time,
            "txnAmt": str(order.amount_fen),
            "currencyCode": "156",
            "queryId": order.trade_no,
            "respCode": OK[0],
            "respMsg": OK[1],
            "payCardType": "01",
            "accNo": "6216********0018",
            **order_trace,
        }
        _notify(sb, order.notify_url, "payment", order.out_trade_no, fields)


def _complete_refund(sb: Sandbox, order: Order, refund: Refund, req_reserved: str) -> None:
    with sb.state.lock:
        refund.status, refund.succeeded_at = "SUCCESS", now_utc()
    fields = {
        "txnType": TXN_REFUND,
        "txnSubType": "00",
        "bizType": "000201",
        "orderId": refund.out_refund_no,
        "txnTime": refund.txn_time,
        "txnAmt": str(refund.amount_fen),
        "currencyCode": "156",
        "queryId": refund.refund_id,
        "origQryId": order.trade_no,
        "respCode": OK[0],
        "respMsg": OK[1],
        "reqReserved": req_reserved,
        **_trace(refund.succeeded_at or now_utc()),
    }
    if refund.notify_url:
        _notify(sb, refund.notify_url, "refund", order.out_trade_no, fields)


def _zm_line(values: dict[int, str]) -> str:
    parts = []
    for i, width in enumerate(ZM_WIDTHS):
        value = values.get(i, "")
        parts.append(value.zfill(width) if i in (6, 15, 16) else value.ljust(width))
    return " ".join(parts)


def statement(sb: Sandbox, settle_day: date) -> tuple[str, bytes]:
    """The day's ZM file (fixed width) in a zip, as the file download interface serves it."""
    mer_id = sb.keys.ids["unionpay_mer_id"]
    lines = []

    def day(moment: datetime | None) -> bool:
        return moment is not None and moment.astimezone(CST).date() == settle_day

    with sb.state.lock:
        for o in (o for o in sb.state.orders.values() if o.provider == "unionpay"):
            if day(o.paid_at):
                assert o.paid_at is not None
                local = o.paid_at.astimezone(CST)
                lines.append(
                    _zm_line(
                        {0: "S22", 4: local.strftime("%m%d%H%M%S"), 6: str(o.amount_fen), 9: o.trade_no}
                        | {11: o.out_trade_no, 19: TXN_CONSUME, 20: "01", 21: "000201", 27: mer_id}
                    )
                )
            for r in o.refunds.values():
                if r.status == "SUCCESS" and day(r.succeeded_at):
                    assert r.succeeded_at is not None
                    local = r.succeeded_at.astimezone(CST)
                    lines.append(
                        _zm_line(
                            {0: "S30", 4: local.strftime("%m%d%H%M%S"), 6: str(r.amount_fen), 9: r.refund_id}
                            | {11: r.out_refund_no, 19: TXN_REFUND, 20: "00", 21: "000201", 26: o.trade_no}
                            | {27: mer_id, 40: o.out_trade_no}
                        )
                    )
    stamp = settle_day.strftime("%Y%m%d")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"INN{settle_day:%y%m%d}88ZM_{mer_id}", "".join(line + "\r\n" for line in lines))
        archive.writestr(f"INN{settle_day:%y%m%d}88ZME_{mer_id}", "")
    return f"{mer_id}_{stamp}.zip", buffer.getvalue()


def _find(sb: Sandbox, order_id: str, txn_time: str) -> tuple[Order, Refund | None] | None:
    with sb.state.lock:
        order = sb.state.order("unionpay", order_id)
        if order is not None and order.txn_time == txn_time:
            return order, None
        for o in sb.state.orders.values():
            refund = o.refunds.get(order_id) if o.provider == "unionpay" else None
            if refund is not None and refund.txn_time == txn_time:
                return o, refund
    return None


def blueprint(sb: Sandbox) -> Blueprint:
    bp = Blueprint("unionpay", __name__, url_prefix=PREFIX)

    @bp.post(FRONT_PATH)
    def front() -> tuple[str, int]:
        params = request.form.to_dict()
        problem = _merchant_error(sb, params)
        if problem:
            return pages.error(problem), 400
        try:
            amount = int(params["txnAmt"])
            created, expires = parse_acp_time(params["txnTime"]), parse_acp_time(params["payTimeout"])
            order_id = params["orderId"]
        except (KeyError, ValueError):
            return pages.error("报文格式错误"), 400
        if params.get("txnType") != TXN_CONSUME or amount <= 0 or not params.get("backUrl"):
            return pages.error("报文格式错误"), 400
        description = params.get("riskRateInfo", "").removeprefix("{commodityName=").removesuffix("}")
        with sb.state.lock:
            order = sb.state.order("unionpay", order_id)
            if order is None:
                order = Order(
                    "unionpay",
                    order_id,
                    amount,
                    description,
                    params["backUrl"],
                    expires,
                    created,
                    return_url=params.get("frontUrl", ""),
                    txn_time=params["txnTime"],
                )
                sb.state.add(order)
            elif order.txn_time != params["txnTime"] or order.amount_fen != amount:
                return pages.error("订单号重复"), 400
            elif order.status != "NOTPAY":
                return pages.error("该订单已支付或已关闭"), 400
        action = f"{sb.public_url}{PREFIX}/cashier/{order.token}"
        return pages.cashier("unionpay", order.out_trade_no, order.amount_fen, order.description, action), 200

    @bp.post("/cashier/<token>")
    def cashier_pay(token: str) -> tuple[str, int]:
        order = sb.state.by_token(token)
        if order is None or order.provider != "unionpay":
            return pages.error("订单不存在"), 404
        problem = sb.pay(order)
        if problem:
            return pages.error(problem), 409
        return pages.paid("unionpay", order.out_trade_no, order.return_url), 200

    @bp.post(BACK_PATH)
    def back() -> Response:
        params = request.form.to_dict()
        problem = _merchant_error(sb, params)
        if problem:
            return _answer(sb, params, {"respCode": "11", "respMsg": problem})
        if params.get("txnType") != TXN_REFUND:
            return _answer(sb, params, {"respCode": "10", "respMsg": "交易类型不支持"})
        with sb.state.lock:
            order = next(
                (
                    o
                    for o in sb.state.orders.values()
                    if o.provider == "unionpay" and o.trade_no == params.get("origQryId")
                ),
                None,
            )
            if order is None or order.status != "SUCCESS":
                return _answer(sb, params, {"respCode": "35", "respMsg": "原交易不存在或状态不正确"})
            try:
                amount = int(params["txnAmt"])
                refund_no, txn_time = params["orderId"], params["txnTime"]
                parse_acp_time(txn_time)
            except (KeyError, ValueError):
                return _answer(sb, params, {"respCode": "10", "respMsg": "报文格式错误"})
            refund = order.refunds.get(refund_no)
            if refund is not None and (refund.txn_time != txn_time or refund.amount_fen != amount):
                return _answer(sb, params, {"respCode": "12", "respMsg": "重复交易"})
            if refund is None:
                if amount <= 0 or order.refunded_fen + amount > order.amount_fen:
                    return _answer(sb, params, {"respCode": "36", "respMsg": "退货金额超限"})
                refund = Refund(refund_no, _query_id(), amount, now_utc(), params.get("backUrl", ""), txn_time=txn_time)
                order.refunds[refund_no] = refund
                new, reserved = refund, params.get("reqReserved", "")
                sb.state.later(1.0 * sb.state.retry_scale, lambda: _complete_refund(sb, order, new, reserved))
        return _answer(
            sb,
            params,
            {
                "respCode": OK[0],
                "respMsg": OK[1],
                "queryId": refund.refund_id,
                "origQryId": order.trade_no,
                "txnAmt": str(refund.amount_fen),
            },
        )

    @bp.post(QUERY_PATH)
    def query() -> Response:
        params = request.form.to_dict()
        problem = _merchant_error(sb, params)
        if problem:
            return _answer(sb, params, {"respCode": "11", "respMsg": problem})
        if params.get("txnType") != TXN_QUERY:
            return _answer(sb, params, {"respCode": "10", "respMsg": "交易类型不支持"})
        found = _find(sb, params.get("orderId", ""), params.get("txnTime", ""))
        if found is None:
            return _answer(sb, params, {"respCode": "34", "respMsg": "查无此交易"})
        order, refund = found
        with sb.state.lock:
            if refund is not None:
                done = refund.status == "SUCCESS"
                fields = {"queryId": refund.refund_id, "txnAmt": str(refund.amount_fen), "origQryId": order.trade_no}
                fields |= {"origRespCode": "00" if done else "05", "origRespMsg": "成功" if done else "处理中"}
                if done and refund.succeeded_at:
                    fields |= _trace(refund.succeeded_at)
            else:
                fields = {"txnAmt": str(order.amount_fen), "currencyCode": "156"}
                if order.status == "SUCCESS":
                    fields |= {"queryId": order.trade_no, "origRespCode": "00", "origRespMsg": "成功"}
                    fields |= order.trace
                elif order.status == "NOTPAY" and not order.expired(now_utc()):
                    fields |= {"origRespCode": "05", "origRespMsg": "交易处理中"}
                else:
                    fields |= {"origRespCode": "01", "origRespMsg": "交易失败（已超时）"}
        return _answer(sb, params, {"respCode": OK[0], "respMsg": OK[1], **fields})

    @bp.post("/filedownload/")
    def file_download() -> Response:
        params = request.form.to_dict()
        problem = _merchant_error(sb, params)
        if problem:
            return _answer(sb, params, {"respCode": "11", "respMsg": problem})
        settle = params.get("settleDate", "")
        if params.get("txnType") != TXN_FILE or len(settle) != 4 or not settle.isdigit():
            return _answer(sb, params, {"respCode": "10", "respMsg": "报文格式错误"})
        today = now_utc().astimezone(CST).date()
        try:
            settle_day = date(today.year, int(settle[:2]), int(settle[2:]))
        except ValueError:
            return _answer(sb, params, {"respCode": "10", "respMsg": "清算日期错误"})
        if settle_day > today:
            settle_day = settle_day.replace(year=today.year - 1)
        name, raw = statement(sb, settle_day)
        sb.save_statement("unionpay", name, raw)
        content = base64.b64encode(zlib.compress(raw)).decode()
        return _answer(
            sb,
            params,
            {
                "respCode": OK[0],
                "respMsg": OK[1],
                "settleDate": settle,
                "fileType": "00",
                "fileName": name,
                "fileContent": content,
            },
        )

    return bp
