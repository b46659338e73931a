"""The sandbox's Flask application: the three provider stand-ins plus the sandbox-only control API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, jsonify, request

from services.payment.sandbox import alipay, unionpay, wechat
from services.payment.sandbox.keys import SandboxKeys
from services.payment.sandbox.state import Order, SandboxState, now_utc

PAY = {"wechat": wechat.pay, "alipay": alipay.pay, "unionpay": unionpay.pay}


@dataclass
class Sandbox:
    keys: SandboxKeys
    state: SandboxState
    public_url: str  # how our servers and the payer's browser reach this process

    @property
    def state_dir(self) -> Path:
        return self.keys.state_dir

    def pay(self, order: Order, notify: bool = True) -> str:
        """The payer presses 支付: '' on success, else why it cannot be paid (Chinese, for the page)."""
        with self.state.lock:
            if order.status == "SUCCESS":
                return "该订单已支付"
            if order.status == "CLOSED":
                return "该订单已关闭"
            if order.expired(now_utc()):
                order.status = "CLOSED"
                return "该订单已超时关闭"
            PAY[order.provider](self, order, notify)
        return ""

    def save_statement(self, provider: str, name: str, raw: bytes) -> Path:
        """Each statement produced is also kept as a file, as the provider's download would be."""
        path = self.state_dir / "statements" / provider / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
        return path


def control_blueprint(sb: Sandbox) -> Blueprint:
    """SANDBOX-ONLY test control: no real provider has these endpoints."""
    bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

    @bp.get("/health")
    def health() -> Response:
        return jsonify(status="ok")

    @bp.post("/pay")
    def pay() -> tuple[Response, int]:
        """{"provider", "out_trade_no", "notify": true}: what pressing 支付 does; notify=false
        pays without notifying (a provider-side payment our side never hears of)."""
        body = request.get_json(silent=True) or {}
        order = sb.state.order(str(body.get("provider")), str(body.get("out_trade_no")))
        if order is None:
            return jsonify(error="no such order"), 404
        problem = sb.pay(order, notify=bool(body.get("notify", True)))
        if problem:
            return jsonify(error=problem), 409
        return jsonify(provider=order.provider, out_trade_no=order.out_trade_no, trade_no=order.trade_no), 200

    @bp.get("/orders")
    def orders() -> Response:
        provider, out_trade_no = request.args.get("provider"), request.args.get("out_trade_no")
        with sb.state.lock:
            found = [
                {
                    "provider": o.provider,
                    "out_trade_no": o.out_trade_no,
                    "amount_fen": o.amount_fen,
                    "status": o.status,
                    "trade_no": o.trade_no,
                    "pay_page_token": o.token,
                    "refunds": {k: {"amount_fen": r.amount_fen, "status": r.status} for k, r in o.refunds.items()},
                }
                for o in sb.state.orders.values()
                if (not provider or o.provider == provider) and (not out_trade_no or o.out_trade_no == out_trade_no)
            ]
        return jsonify(orders=found)

    @bp.get("/deliveries")
    def deliveries() -> Response:
        provider, out_trade_no = request.args.get("provider"), request.args.get("out_trade_no")
        with sb.state.lock:
            found = [
                d.summary()
                for d in sb.state.deliveries
                if (not provider or d.provider == provider) and (not out_trade_no or d.out_trade_no == out_trade_no)
            ]
        return jsonify(deliveries=found)

    return bp


def create_app(sb: Sandbox) -> Flask:
    app = Flask("payment-sandbox")
    app.register_blueprint(wechat.blueprint(sb))
    app.register_blueprint(alipay.blueprint(sb))
    app.register_blueprint(unionpay.blueprint(sb))
    app.register_blueprint(control_blueprint(sb))
    return app
