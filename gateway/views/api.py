"""JSON API of the front door: captcha, session, password. Errors: 4xx with {error: {code, message, field}}."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from gateway.errors import BackendError, call
from gateway.openapi import SPEC
from gateway.security import (
    CANDIDATE_COOKIE,
    clear_session_cookie,
    client_info,
    csrf_token,
    login_required,
    set_session_cookie,
)
from gateway.views.forms import new_captcha
from zsb.auth.v1 import auth_pb2 as pb

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_FIELD = 64


def auth():
    return current_app.extensions["backends"].auth


def body(*names: str) -> dict[str, str]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BackendError(400, "请求体须为JSON对象", "BAD_JSON")
    out = {}
    for name in names:
        v = data.get(name, "")
        if not isinstance(v, str):
            raise BackendError(400, f"{name} 须为字符串", "BAD_FIELD", name)
        if len(v) > MAX_FIELD:
            raise BackendError(400, "输入过长", "TOO_LONG", name)
        out[name] = v
    return out


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI description."""
    return jsonify(SPEC)


@bp.get("/csrf")
def csrf():
    """The token JSON clients send back in X-CSRF-Token."""
    return jsonify(csrf_token=csrf_token())


@bp.get("/captcha")
def captcha():
    return jsonify(new_captcha())


@bp.post("/session")
def login():
    b = body("candidate_no", "password", "captcha_id", "captcha")
    resp = call(
        auth().Login,
        pb.LoginRequest(
            kind=pb.CANDIDATE,
            username=b["candidate_no"],
            password=b["password"],
            captcha_id=b["captcha_id"],
            captcha_answer=b["captcha"],
            client=client_info(),
        ),
    )
    out = jsonify(must_change_password=resp.must_change_password, name=resp.principal.name)
    return set_session_cookie(out, resp.session_id, CANDIDATE_COOKIE)


@bp.delete("/session")
def logout():
    session_id = request.cookies.get(CANDIDATE_COOKIE, "")
    if session_id:
        call(auth().Logout, pb.LogoutRequest(session_id=session_id))
    return clear_session_cookie(jsonify(ok=True), CANDIDATE_COOKIE)


@bp.get("/me")
@login_required(allow_password_change=True)
def me():
    u = g.user
    return jsonify(
        candidate_no=u.subject,
        name=u.name,
        must_change_password=u.must_change_password,
        idle_expires_at=u.idle_expires_at,
    )


@bp.post("/password")
@login_required(allow_password_change=True)
def change_password():
    b = body("old_password", "new_password")
    resp = call(
        auth().ChangePassword,
        pb.ChangePasswordRequest(
            session_id=request.cookies.get(CANDIDATE_COOKIE, ""),
            old_password=b["old_password"],
            new_password=b["new_password"],
            client=client_info(),
        ),
    )
    return set_session_cookie(jsonify(ok=True), resp.session_id, CANDIDATE_COOKIE)
