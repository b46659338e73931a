"""The payment providers' asynchronous notifications (WeChat Pay, Alipay, UnionPay).

Public on purpose: no session, no CSRF (`bp.public`, honoured by `gateway.security`). The raw body
and headers go unchanged to the payment service's public gRPC method HandleNotification, which
verifies the provider's signature; its reply is returned to the provider byte for byte. When the
service cannot be reached the answer is HTTP 500, which all three providers treat as "send again".
"""

from __future__ import annotations

import logging

import grpc
from flask import Blueprint, Response, abort, current_app, request

from zsb.common.context import reset_access_token, set_access_token
from zsb.common.discovery import ServiceUnavailable
from zsb.payment.v1 import payment_pb2 as pb

log = logging.getLogger(__name__)

bp = Blueprint("payment_notify", __name__)
bp.public = True  # type: ignore[attr-defined] - the marker gateway.security honours

PROVIDERS = frozenset({"wechat", "alipay", "unionpay"})
MAX_BODY = 64 * 1024  # real notifications are a few KB
# Headers that mean something only between a browser and us; never forwarded.
_DROPPED = frozenset({"cookie", "authorization"})


@bp.post("/payment/notify/<provider>")
def notify(provider: str) -> Response:
    if provider not in PROVIDERS:
        abort(404)
    if (request.content_length or 0) > MAX_BODY:
        abort(413)
    body = request.get_data(cache=False, as_text=False, parse_form_data=False)
    if len(body) > MAX_BODY:
        abort(413)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
    message = pb.ProviderNotification(
        provider=provider, headers=headers, body=body, remote_addr=(request.remote_addr or "")[:45]
    )
    # A thread may still hold a previous request's candidate token: this call must carry none.
    token = set_access_token("")
    try:
        reply = current_app.extensions["backends"].payment.HandleNotification(message, timeout=20)
    except (grpc.RpcError, ServiceUnavailable) as exc:
        log.error("payment notification could not be passed on", extra={"provider": provider, "error": str(exc)})
        return Response(b"fail", status=500, content_type="text/plain")
    finally:
        reset_access_token(token)
    return Response(reply.body, status=reply.status, content_type=reply.content_type or None)
