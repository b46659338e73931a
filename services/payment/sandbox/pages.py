"""Plain HTML of the sandbox cashier (no external assets): the pay page and its results."""

from __future__ import annotations

from html import escape

from services.payment.providers.base import fen_to_yuan

PROVIDER_NAMES = {"wechat": "微信支付", "alipay": "支付宝", "unionpay": "银联在线支付"}

_STYLE = (
    "body{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}"
    ".note{background:#fff3cd;border:1px solid #e0c36c;padding:.5rem;font-size:.9rem}"
    "dt{color:#666;margin-top:.6rem}dd{margin:0;font-size:1.1rem}"
    "button{margin-top:1.5rem;font-size:1.2rem;padding:.6rem 2.5rem;cursor:pointer}"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        '<p class="note">支付沙箱（仅供测试，不产生真实扣款）</p>'
        f"{body}</body></html>"
    )


def cashier(provider: str, out_trade_no: str, amount_fen: int, description: str, pay_action: str) -> str:
    name = PROVIDER_NAMES[provider]
    return _page(
        f"{name} - 收银台",
        f"<h1>{escape(name)}</h1><dl>"
        f"<dt>商品</dt><dd>{escape(description)}</dd>"
        f"<dt>订单号</dt><dd>{escape(out_trade_no)}</dd>"
        f"<dt>金额</dt><dd>¥{fen_to_yuan(amount_fen)}</dd></dl>"
        f'<form method="post" action="{escape(pay_action)}"><button type="submit">支付</button></form>',
    )


def paid(provider: str, out_trade_no: str, return_url: str) -> str:
    back = f'<p><a href="{escape(return_url)}">返回商户</a></p>' if return_url else ""
    return _page("支付成功", f"<h1>支付成功</h1><p>订单 {escape(out_trade_no)} 已支付。</p>{back}")


def error(message: str) -> str:
    return _page("无法支付", f"<h1>无法支付</h1><p>{escape(message)}</p>")
