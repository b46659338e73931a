"""网上支付 (manual 2.8.5) for the candidate, and the payment pages of the admin side.

Candidate: the overview with 立即支付 and the choice of 微信支付 / 支付宝支付 / 银联支付; the order's
page shows the QR code (WeChat Native, Alipay QR), the link to the provider's cashier (Alipay page
pay) or the form the browser posts to UnionPay, and polls a small JSON endpoint with the local
script until the payment is verified. The provider's notification, not this page, decides.
Admin: orders in the staff member's scope; for the province the fee schedule, reconciliation
and the payment alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import segno
from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.security import allow_form_action, login_required
from zsb.common.clock import BEIJING
from zsb.payment.v1 import payment_pb2 as pb

bp = Blueprint("payment", __name__)
# No menu entry: the page is the 网上支付 step of 报考信息 (registration links to payment.index).
ADMIN_MENU = [
    (40, "缴费订单", "payment.admin_orders", ("province", "city", "point")),
    (41, "报名费标准", "payment.admin_fees", ("province",)),
    (42, "支付对账", "payment.admin_reconciliations", ("province",)),
    (43, "支付告警", "payment.admin_alerts", ("province",)),
]
PROVIDER_NAMES = {"wechat": "微信支付", "alipay": "支付宝支付", "unionpay": "银联支付"}
# Where 返回报考信息 leads: the registration page (the home page if its blueprint is not installed).
BACK_ENDPOINTS = ("registration.index", "account.home")
_ORDER_NO = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def payment():
    return current_app.extensions["backends"].payment


@bp.app_template_filter("yuan")
def yuan(fen: int) -> str:
    """Integer fen as ¥ text for people: 15000 -> '150.00'."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@bp.app_template_filter("beijing_time")
def beijing_time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


@bp.app_context_processor
def _names() -> dict:
    return {"provider_names": PROVIDER_NAMES}


def _back_url() -> str:
    endpoint = next(e for e in BACK_ENDPOINTS if e in current_app.view_functions)
    return url_for(endpoint)


def _order_no(value: str) -> str:
    if not (8 <= len(value) <= 32 and set(value) <= _ORDER_NO):
        raise BackendError(404, "订单不存在", "ORDER_NOT_FOUND")
    return value


def _qr_image(content: str) -> str:
    """The QR code as an inline SVG data URI (no third-party service sees the payment link)."""
    return segno.make(content, error="m").svg_data_uri(scale=6, border=2)


# ---------------------------------------------------------------- candidate


@bp.get("/payment")
@login_required()
def index():
    return _overview_page()


def _overview_page(message: str = "", status: int = 200):
    """The overview; `message` is a refusal to show (never taken from the URL: this is a payment page)."""
    overview = call(payment().GetPayment, pb.GetPaymentRequest(candidate_no=g.user.subject))
    return render_template("payment/index.html", overview=overview, back_url=_back_url(), message=message), status


@bp.post("/payment/start")
@login_required()
def start():
    provider = request.form.get("provider", "")
    if provider not in PROVIDER_NAMES:
        return _overview_page("请选择支付方式", 400)
    try:
        order = call(payment().StartPayment, pb.StartPaymentRequest(candidate_no=g.user.subject, provider=provider))
    except BackendError as err:
        if err.status >= 500 or err.status in (401, 403):
            raise
        return _overview_page(err.message, err.status)
    return redirect(url_for("payment.order_page", order_no=order.order_no, go=1))


@bp.get("/payment/orders/<order_no>")
@login_required()
def order_page(order_no: str):
    answer = call(
        payment().CheckPayment,
        pb.CheckPaymentRequest(candidate_no=g.user.subject, order_no=_order_no(order_no), ask_provider=False),
    )
    order = answer.order
    action = order.action if order.HasField("action") else None
    qr = _qr_image(action.url) if action is not None and action.kind == "qr" else ""
    if action is not None and action.kind == "form":
        allow_form_action(action.url)
    return render_template(
        "payment/order.html",
        order=order,
        action=action,
        qr=qr,
        auto=request.args.get("go") == "1",
        status_url=url_for("payment.order_status", order_no=order.order_no),
        back_url=_back_url(),
    )


@bp.get("/api/v1/payment/orders/<order_no>")
@login_required()
def order_status(order_no: str):
    """The page's poll: the order as the service knows it, after asking the provider when due."""
    answer = call(
        payment().CheckPayment,
        pb.CheckPaymentRequest(candidate_no=g.user.subject, order_no=_order_no(order_no), ask_provider=True),
    )
    order = answer.order
    return jsonify(
        order_no=order.order_no,
        state=order.state,
        state_label=order.state_label,
        status=answer.status,
        status_label=answer.status_label,
        paid=order.state in ("paid", "refunding", "refunded"),
        open=order.state in ("created", "paying"),
    )


@bp.get("/payment/pay.js")
def script() -> Response:
    """The pages' small local script (polling, the provider hand-over); no CDN, no inline code."""
    return Response(render_template("payment/pay.js"), mimetype="application/javascript")


# ---------------------------------------------------------------- admin


@bp.get("/admin/payment/orders")
@login_required(staff=True, roles=("province", "city", "point"))
def admin_orders():
    candidate_no = request.args.get("candidate_no", "").strip()[:14]
    state = request.args.get("state", "").strip()[:12]
    resp = call(payment().ListOrders, pb.ListOrdersRequest(candidate_no=candidate_no, state=state, limit=200))
    refunds = {r.order_no: r for r in resp.refunds}
    return render_template(
        "payment/admin_orders.html", orders=resp.orders, refunds=refunds, candidate_no=candidate_no, state=state
    )


@bp.get("/admin/payment/fees")
@login_required(staff=True)  # every staff role may read the schedule; only the province sets it
def admin_fees():
    fees = call(payment().ListFees, pb.ListFeesRequest()).fees
    return render_template("payment/admin_fees.html", fees=fees, errors={}, values={}, message="")


@bp.post("/admin/payment/fees")
@login_required(staff=True, roles=("province",))
def admin_fee_set():
    values = {k: request.form.get(k, "").strip()[:20] for k in ("category_code", "category_name", "amount_yuan")}
    errors: dict[str, str] = {}
    fen = _parse_yuan(values["amount_yuan"])
    if fen is None:
        errors["amount_yuan"] = "金额格式不正确，应为元，最多两位小数，如 150.00"
    else:
        try:
            call(
                payment().SetFee,
                pb.SetFeeRequest(
                    category_code=values["category_code"], category_name=values["category_name"], amount_fen=fen
                ),
            )
        except BackendError as err:
            if err.status >= 500 or err.status in (401, 403):
                raise
            errors[{"amount_fen": "amount_yuan"}.get(err.field, err.field or "category_code")] = err.message
    fees = call(payment().ListFees, pb.ListFeesRequest()).fees
    if errors:
        return render_template("payment/admin_fees.html", fees=fees, errors=errors, values=values, message=""), 400
    return render_template("payment/admin_fees.html", fees=fees, errors={}, values={}, message="报名费标准已保存")


def _parse_yuan(text: str) -> int | None:
    """'150', '150.5', '150.50' -> fen exactly (never a float); None when malformed."""
    whole, dot, cents = text.partition(".")
    if not (whole.isascii() and whole.isdigit() and len(whole) <= 8):
        return None
    if dot and not (cents.isascii() and cents.isdigit() and len(cents) <= 2):
        return None
    return int(whole) * 100 + int((cents + "00")[:2])


@bp.get("/admin/payment/reconciliation")
@login_required(staff=True, roles=("province",))
def admin_reconciliations():
    runs = call(payment().ListReconciliations, pb.ListReconciliationsRequest(limit=50)).runs
    today = datetime.now(BEIJING).date().isoformat()
    return render_template("payment/admin_reconciliations.html", runs=runs, today=today, error="")


@bp.post("/admin/payment/reconciliation")
@login_required(staff=True, roles=("province",))
def admin_reconcile():
    provider = request.form.get("provider", "")
    bill_date = request.form.get("bill_date", "").strip()[:10]
    try:
        run = call(payment().Reconcile, pb.ReconcileRequest(provider=provider, bill_date=bill_date), timeout=120)
    except BackendError as err:
        if err.status >= 500 or err.status in (401, 403):
            raise
        runs = call(payment().ListReconciliations, pb.ListReconciliationsRequest(limit=50)).runs
        return render_template("payment/admin_reconciliations.html", runs=runs, today=bill_date, error=err.message), 400
    return redirect(url_for("payment.admin_reconciliation", run_id=run.id))


@bp.get("/admin/payment/reconciliation/<int:run_id>")
@login_required(staff=True, roles=("province",))
def admin_reconciliation(run_id: int):
    run = call(payment().GetReconciliation, pb.GetReconciliationRequest(id=run_id))
    return render_template("payment/admin_reconciliation.html", run=run)


@bp.get("/admin/payment/alerts")
@login_required(staff=True, roles=("province",))
def admin_alerts():
    kind = request.args.get("kind", "").strip()[:40]
    alerts = call(payment().ListAlerts, pb.ListAlertsRequest(kind=kind, limit=200)).alerts
    return render_template("payment/admin_alerts.html", alerts=alerts, kind=kind)
