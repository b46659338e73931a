"""The public page a ticket's QR code opens: is this 准考证 genuine and current?

No login, no session, no CSRF (`bp.public`, honoured by `gateway.security`): invigilators scan the
code with any phone. The registration service checks the token's signature and whether its seat
belongs to the published arrangement; the page shows the answer with the name masked.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, make_response, render_template

from gateway.errors import BackendError, call
from zsb.common.context import reset_access_token, set_access_token
from zsb.registration.v1 import registration_pb2 as pb

log = logging.getLogger(__name__)

bp = Blueprint("ticket_verify", __name__)
bp.public = True  # type: ignore[attr-defined] - the marker gateway.security honours

MAX_TOKEN = 100  # real tokens have 39 characters


@bp.get("/ticket/verify/<token>")
def verify(token: str) -> Response:
    if len(token) > MAX_TOKEN:
        abort(404)
    # A thread may still hold a previous request's token: this public call must carry none.
    previous = set_access_token("")
    try:
        result = call(current_app.extensions["backends"].registration.VerifyTicket, pb.VerifyTicketRequest(token=token))
    except BackendError as err:
        log.warning("ticket verification unavailable", extra={"reason": err.reason})
        result = None
    finally:
        reset_access_token(previous)
    status = 200 if result is not None else 503
    resp = make_response(render_template("downloads/verify.html", v=result), status)
    resp.headers["Cache-Control"] = "no-store"  # the answer changes when the arrangement does
    resp.headers["X-Robots-Tag"] = "noindex, nofollow"
    return resp
