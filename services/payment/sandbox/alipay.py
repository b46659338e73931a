"""The Alipay gateway stand-in: one gateway.do, RSA2 both ways, trade_status_sync notifications.

Requests are verified with our app's public key over every parameter but `sign`; answers are
'{"<method>_response":{...},"sign":"..."}' with the signature over the inner JSON exactly as
sent; notifications are urlencoded forms signed over the sorted parameters without sign and
sign_type, resent unchanged (same notify_id and notify_time) on Alipay's schedule until our
answer is exactly "success".
"""

from __future__ import annotations

import base64
import csv
import io
import json
import secrets
import uuid
import zipfile
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Blueprint, Response, request

from services.payment.providers.alipay import alipay_time, parse_alipay_time
from services.payment.providers.base import CST, fen_to_yuan, yuan_to_fen
from services.payment.sandbox import pages
from services.payment.sandbox.state import Order, Refund, now_utc

if TYPE_CHECKING:
    from services.payment.sandbox.app import Sandbox
    from services.payment.sandbox.keys import SandboxKeys

PREFIX = "/alipay"
BILL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
    "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
    "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)
BUYER = {"buyer_id": "2088102177846880", "buyer_logon_id": "san***@sandbox.example"}


def _content(params: dict[str, str]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params))


def _sign(key: rsa.RSAPrivateKey, text: str) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def _request_is_genuine(sb: Sandbox, params: dict[str, str]) -> bool:
    """Our request signature: RSA2 over every parameter except sign (sign_type included)."""
    public = serialization.load_pem_public_key(sb.keys.alipay_app_public_pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    unsigned = {k: v for k, v in params.items() if k != "sign"}
    try:
        signature = base64.b64decode(params.get("sign", ""), validate=True)
        public.verify(signature, _content(unsigned).encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _answer(sb: Sandbox, method: str, data: dict[str, Any]) -> Response:
    inner = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    name = method.replace(".", "_") + "_response"
    text = f'{{"{name}":{inner},"sign":"{_sign(sb.keys.alipay_key, inner)}"}}'
    return Response(text, content_type="application/json; charset=utf-8")


def _fail(sb: Sandbox, method: str, code: str, sub_code: str, sub_msg: str) -> Response:
    msg = {"40002": "Invalid Arguments", "40004": "Business Failed"}.get(code, "Error")
    return _answer(sb, method, {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg})


def signed_notification(keys: SandboxKeys, params: dict[str, str]) -> bytes:
    """The urlencoded form: signed over the sorted parameters, then sign and sign_type added."""
    signed = {**params, "sign": _sign(keys.alipay_key, _content(params)), "sign_type": "RSA2"}
    return urlencode(signed).encode()


def _notify(sb: Sandbox, order: Order, extra: dict[str, str], kind: str) -> None:
    """Sign once; the same form is resent on every attempt."""
    params = {
        "notify_time": alipay_time(now_utc()),
        "notify_type": "trade_status_sync",
        "notify_id": uuid.uuid4().hex,
        "charset": "utf-8",
        "version": "1.0",
        "app_id": sb.keys.ids["alipay_app_id"],
        "auth_app_id": sb.keys.ids["alipay_app_id"],
        "seller_id": sb.keys.ids["alipay_seller_id"],
        "out_trade_no": order.out_trade_no,
        "trade_no": order.trade_no,
        "subject": order.description,
        "total_amount": fen_to_yuan(order.amount_fen),
        "receipt_amount": fen_to_yuan(order.amount_fen),
        "invoice_amount": fen_to_yuan(order.amount_fen),
        "buyer_pay_amount": fen_to_yuan(order.amount_fen),
        "point_amount": "0.00",
        "gmt_create": alipay_time(order.created_at),
        "gmt_payment": alipay_time(order.paid_at or now_utc()),
        "fund_bill_list": json.dumps([{"amount": fen_to_yuan(order.amount_fen), "fundChannel": "ALIPAYACCOUNT"}]),
        **BUYER,
        **extra,
    }
    body = signed_notification(sb.keys, params)

    def build() -> tuple[dict[str, str], bytes]:
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body

    # Alipay stops only on a body of exactly "success".
    sb.state.deliver("alipay", order.notify_url, kind, order.out_trade_no, build, lambda r: r.content == b"success")


def pay(sb: Sandbox, order: Order, notify: bool = True) -> None:
    order.status, order.trade_no, order.paid_at = "SUCCESS", sb.state.trade_no("2024"), now_utc()
    if notify:
        _notify(sb, order, {"trade_status": "TRADE_SUCCESS"}, "payment")


def _trade_status(order: Order) -> str:
    if order.status == "SUCCESS":
        return "TRADE_CLOSED" if order.refunded_fen >= order.amount_fen else "TRADE_SUCCESS"
    return "WAIT_BUYER_PAY" if order.status == "NOTPAY" else "TRADE_CLOSED"


def statement(sb: Sandbox, bill_date: date) -> tuple[str, bytes]:
    """The day's trade bill: a zip of GBK CSVs (业务明细 and its summary), as Alipay serves it."""
    seller, stamp = sb.keys.ids["alipay_seller_id"], bill_date.strftime("%Y%m%d")
    rows: list[list[str]] = []
    paid_total = refund_total = paid_count = refund_count = 0

    def day(moment: datetime | None) -> bool:
        return moment is not None and moment.astimezone(CST).date() == bill_date

    blank = [""] * 5
    with sb.state.lock:
        for o in (o for o in sb.state.orders.values() if o.provider == "alipay"):
            if day(o.paid_at):
                assert o.paid_at is not None
                paid_total, paid_count = paid_total + o.amount_fen, paid_count + 1
                yuan = fen_to_yuan(o.amount_fen)
                rows.append(
                    [o.trade_no + "\t", o.out_trade_no + "\t", "交易", o.description, alipay_time(o.created_at)]
                    + [alipay_time(o.paid_at), *blank[:4], BUYER["buyer_logon_id"], yuan, yuan]
                    + ["0.00"] * 5
                    + ["", "0.00", "0.00", "", "0.00", "0.00", ""]
                )
            for r in o.refunds.values():
                if r.status == "SUCCESS" and day(r.succeeded_at):
                    assert r.succeeded_at is not None
                    refund_total, refund_count = refund_total + r.amount_fen, refund_count + 1
                    yuan = "-" + fen_to_yuan(r.amount_fen)
                    rows.append(
                        [o.trade_no + "\t", o.out_trade_no + "\t", "退款", o.description, alipay_time(r.created_at)]
                        + [alipay_time(r.succeeded_at), *blank[:4], BUYER["buyer_logon_id"], yuan, yuan]
                        + ["0.00"] * 5
                        + ["", "0.00", "0.00", r.out_refund_no + "\t", "0.00", "0.00", ""]
                    )
    out = io.StringIO()
    out.write("#支付宝业务明细查询\r\n")
    out.write(f"#账号：[{seller}0156]\r\n")
    out.write(f"#起始日期：[{bill_date:%Y年%m月%d日} 00:00:00]   终止日期：[{bill_date:%Y年%m月%d日} 23:59:59]\r\n")
    out.write("#-----------------------------------------业务明细列表----------------------------------------\r\n")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BILL_HEADER.split(","))
    writer.writerows(rows)
    out.write("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
    out.write(f"#交易合计：{paid_count}笔，商家实收共{fen_to_yuan(paid_total)}元，商家优惠共0.00元\r\n")
    out.write(f"#退款合计：{refund_count}笔，商家实收共-{fen_to_yuan(refund_total)}元，商家优惠共0.00元\r\n")
    out.write(f"#导出时间：[{now_utc().astimezone(CST):%Y年%m月%d日 %H:%M:%S}]\r\n")
    summary = f"#支付宝业务汇总查询\r\n交易笔数,{paid_count}\r\n退款笔数,{refund_count}\r\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{seller}0156_{stamp}_业务明细.csv", out.getvalue().encode("gbk"))
        archive.writestr(f"{seller}0156_{stamp}_业务明细(汇总).csv", summary.encode("gbk"))
    return f"{seller}0156_{stamp}.csv.zip", buffer.getvalue()


def blueprint(sb: Sandbox) -> Blueprint:
    bp = Blueprint("alipay", __name__, url_prefix=PREFIX)
    bills: dict[str, bytes] = {}

    def biz(params: dict[str, str]) -> dict[str, Any]:
        try:
            data = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @bp.route("/gateway.do", methods=["GET", "POST"])
    def gateway() -> Response | tuple[str, int]:
        params = {**request.args.to_dict(), **request.form.to_dict()}
        method = params.get("method", "")
        page = method == "alipay.trade.page.pay"
        if not _request_is_genuine(sb, params) or params.get("sign_type") != "RSA2":
            if page:
                return pages.error("验签出错，请确认请求签名（sign）正确"), 400
            return _fail(sb, method, "40002", "isv.invalid-signature", "验签出错")
        if params.get("app_id") != sb.keys.ids["alipay_app_id"]:
            if page:
                return pages.error("无效的AppID参数"), 400
            return _fail(sb, method, "40002", "isv.invalid-app-id", "无效的AppID参数")
        content = biz(params)
        handler = HANDLERS.get(method)
        if handler is None:
            return _fail(sb, method, "40004", "isv.invalid-method", "不存在的方法名")
        return handler(sb, params, content, bills)

    @bp.get("/bill/<token>")
    def bill(token: str) -> Response:
        raw = bills.pop(token, None)
        if raw is None:
            return Response("not found", status=404)
        return Response(raw, content_type="application/zip")

    @bp.post("/cashier/<token>")
    def cashier_pay(token: str) -> tuple[str, int]:
        order = sb.state.by_token(token)
        if order is None or order.provider != "alipay":
            return pages.error("订单不存在"), 404
        problem = sb.pay(order)
        if problem:
            return pages.error(problem), 409
        return pages.paid("alipay", order.out_trade_no, order.return_url), 200

    @bp.get("/cashier/<token>")
    def cashier_page(token: str) -> tuple[str, int]:
        order = sb.state.by_token(token)
        if order is None or order.provider != "alipay":
            return pages.error("订单不存在"), 404
        action = f"{sb.public_url}{PREFIX}/cashier/{token}"
        return pages.cashier("alipay", order.out_trade_no, order.amount_fen, order.description, action), 200

    return bp


def _create(sb: Sandbox, params: dict[str, str], content: dict[str, Any]) -> Order | str:
    """Create or find the order of a page.pay/precreate; a string is the business error."""
    out_trade_no = str(content.get("out_trade_no", ""))
    try:
        amount = yuan_to_fen(str(content.get("total_amount", "")))
        expires_at = parse_alipay_time(str(content["time_expire"])) if content.get("time_expire") else None
    except ValueError:
        return "ACQ.INVALID_PARAMETER"
    if not out_trade_no or amount <= 0:
        return "ACQ.INVALID_PARAMETER"
    with sb.state.lock:
        order = sb.state.order("alipay", out_trade_no)
        if order is None:
            created = now_utc()
            order = Order(
                "alipay",
                out_trade_no,
                amount,
                str(content.get("subject", "")),
                params.get("notify_url", ""),
                expires_at or created + timedelta(days=1),
                created,
                return_url=params.get("return_url", ""),
            )
            return sb.state.add(order)
        if order.amount_fen != amount:
            return "ACQ.CONTEXT_INCONSISTENT"
        if order.status == "SUCCESS":
            return "ACQ.TRADE_HAS_SUCCESS"
        if order.status == "CLOSED":
            return "ACQ.TRADE_HAS_CLOSE"
        return order


def _page_pay(sb: Sandbox, params: dict[str, str], content: dict[str, Any], _bills: dict[str, bytes]) -> Any:
    order = _create(sb, params, content)
    if isinstance(order, str):
        return pages.error({"ACQ.TRADE_HAS_SUCCESS": "该订单已支付"}.get(order, f"无法支付：{order}")), 400
    action = f"{sb.public_url}{PREFIX}/cashier/{order.token}"
    return pages.cashier("alipay", order.out_trade_no, order.amount_fen, order.description, action), 200


def _precreate(sb: Sandbox, params: dict[str, str], content: dict[str, Any], _bills: dict[str, bytes]) -> Response:
    method = params["method"]
    order = _create(sb, params, content)
    if isinstance(order, str):
        return _fail(sb, method, "40004", order, "交易状态不合法")
    qr = f"{sb.public_url}{PREFIX}/cashier/{order.token}"
    return _answer(sb, method, {"code": "10000", "msg": "Success", "out_trade_no": order.out_trade_no, "qr_code": qr})


def _query(sb: Sandbox, params: dict[str, str], content: dict[str, Any], _bills: dict[str, bytes]) -> Response:
    method = params["method"]
    order = sb.state.order("alipay", str(content.get("out_trade_no", "")))
    if order is None:
        return _fail(sb, method, "40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
    with sb.state.lock:
        if order.status == "NOTPAY" and order.expired(now_utc()):
            order.status = "CLOSED"
        data = {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": order.out_trade_no,
            "trade_no": order.trade_no,
            "trade_status": _trade_status(order),
            "total_amount": fen_to_yuan(order.amount_fen),
        }
        if order.paid_at:
            data.update(send_pay_date=alipay_time(order.paid_at), buyer_pay_amount=fen_to_yuan(order.amount_fen))
            data.update(BUYER)
    return _answer(sb, method, data)


def _close(sb: Sandbox, params: dict[str, str], content: dict[str, Any], _bills: dict[str, bytes]) -> Response:
    method = params["method"]
    order = sb.state.order("alipay", str(content.get("out_trade_no", "")))
    if order is None:
        return _fail(sb, method, "40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
    with sb.state.lock:
        if order.status == "SUCCESS":
            return _fail(sb, method, "40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        order.status = "CLOSED"
    return _answer(sb, method, {"code": "10000", "msg": "Success", "out_trade_no": order.out_trade_no})


def _refund(sb: Sandbox, params: dict[str, str], content: dict[str, Any], _bills: dict[str, bytes]) -> Response:
    method = params["method"]
    order = sb.state.order("alipay", str(content.get("out_trade_no", "")))
    if order is None:
        return _fail(sb, method, "40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
    try:
        amount = yuan_to_fen(str(content.get("refund_amount", "")))
    except ValueError:
        return _fail(sb, method, "40004", "ACQ.INVALID_PARAMETER", "参数无效")
    out_request_no = str(content.get("out_request_no") or order.out_trade_no)
    with sb.state.lock:
        if order.status != "SUCCESS":
            return _fail(sb, method, "40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        refund = order.refunds.get(out_request_no)
        fund_change = "N"
        if refund is None:
            if amount <= 0 or order.refunded_fen + amount > order.amount_fen:
                return _fail(sb, method, "40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            now = now_utc()
            refund = Refund(
                out_request_no,
                order.trade_no,
                amount,
                now,
                order.notify_url,
                str(content.get("refund_reason", "")),
                "SUCCESS",
                now,
            )
            order.refunds[out_request_no] = refund
            fund_change = "Y"
            if order.notify_url:
                gmt_refund = (refund.succeeded_at or now).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                extra = {
                    "trade_status": _trade_status(order),
                    "refund_fee": fen_to_yuan(order.refunded_fen),
                    "out_biz_no": out_request_no,
                    "gmt_refund": gmt_refund,
                }
                _notify(sb, order, extra, "refund")
        elif refund.amount_fen != amount:
            return _fail(sb, method, "40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与原请求不一致")
        data = {
            "code": "10000",
            "msg": "Success",
            "trade_no": order.trade_no,
            "out_trade_no": order.out_trade_no,
            "buyer_logon_id": BUYER["buyer_logon_id"],
            "fund_change": fund_change,
            "refund_fee": fen_to_yuan(order.refunded_fen),
            "gmt_refund_pay": alipay_time(refund.succeeded_at or now_utc()),
        }
    return _answer(sb, method, data)


def _refund_query(sb: Sandbox, params: dict[str, str], content: dict[str, Any], _bills: dict[str, bytes]) -> Response:
    method = params["method"]
    order = sb.state.order("alipay", str(content.get("out_trade_no", "")))
    if order is None:
        return _fail(sb, method, "40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
    refund = order.refunds.get(str(content.get("out_request_no", "")))
    data: dict[str, Any] = {"code": "10000", "msg": "Success"}
    if refund is not None:
        data.update(
            trade_no=order.trade_no,
            out_trade_no=order.out_trade_no,
            out_request_no=refund.out_refund_no,
            total_amount=fen_to_yuan(order.amount_fen),
            refund_amount=fen_to_yuan(refund.amount_fen),
            refund_status="REFUND_SUCCESS" if refund.status == "SUCCESS" else "",
            gmt_refund_pay=alipay_time(refund.succeeded_at or refund.created_at),
        )
    return _answer(sb, method, data)


def _bill_url(sb: Sandbox, params: dict[str, str], content: dict[str, Any], bills: dict[str, bytes]) -> Response:
    method = params["method"]
    try:
        bill_date = date.fromisoformat(str(content.get("bill_date", "")))
    except ValueError:
        return _fail(sb, method, "40004", "isp.bill_not_exist", "账单不存在")
    if content.get("bill_type") != "trade":
        return _fail(sb, method, "40004", "isv.invalid-bill-type", "账单类型不支持")
    name, raw = statement(sb, bill_date)
    sb.save_statement("alipay", name, raw)
    token = secrets.token_urlsafe(16)
    bills[token] = raw
    url = f"{sb.public_url}{PREFIX}/bill/{token}"
    return _answer(sb, method, {"code": "10000", "msg": "Success", "bill_download_url": url})


HANDLERS = {
    "alipay.trade.page.pay": _page_pay,
    "alipay.trade.precreate": _precreate,
    "alipay.trade.query": _query,
    "alipay.trade.close": _close,
    "alipay.trade.refund": _refund,
    "alipay.trade.fastpay.refund.query": _refund_query,
    "alipay.data.dataservice.bill.downloadurl.query": _bill_url,
}
