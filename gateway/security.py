"""Sessions, CSRF and access control at the gateway; all session state lives in the auth service.

Two cookies, one per side, so that a browser can hold a candidate and a staff session:
`zsb_session` (candidate pages) and `zsb_admin` (paths under /admin). Each holds only the
session id; every request validates it with the auth service, which also counts the
request as activity and returns a short-lived access token for the calls that follow.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, redirect, request, url_for

from gateway.errors import BackendError, call
from zsb.auth.v1 import auth_pb2 as pb
from zsb.common.context import set_access_token

CANDIDATE_COOKIE = "zsb_session"
STAFF_COOKIE = "zsb_admin"
ANON_COOKIE = "zsb_anon"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Why a person was sent back to the login page; only these fixed texts are ever shown.
LOGIN_NOTICES = {
    "idle": "长时间未操作，已自动退出，请重新登录",
    "expired": "登录已失效，请重新登录",
    "logout": "您已安全退出",
    "reset": "密码已重置，请使用新密码登录",
    "login": "请先登录",
}


@dataclass
class User:
    subject: str
    role: str
    name: str
    city_code: str
    point_code: str
    csrf_token: str
    must_change_password: bool
    idle_expires_at: int
    public_id: str

    @property
    def is_staff(self) -> bool:
        return self.role != "candidate"


def is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/") or path.startswith("/api/v1/admin/")


def cookie_name() -> str:
    return STAFF_COOKIE if is_admin_path(request.path) else CANDIDATE_COOKIE


def client_info() -> pb.ClientInfo:
    return pb.ClientInfo(ip=request.remote_addr or "", user_agent=(request.user_agent.string or "")[:200])


def load_user() -> None:
    """Validate the session cookie of this side, if any; sets g.user and the access token."""
    # A worker thread keeps its context between requests: never pass on the previous caller's token.
    set_access_token("")
    g.user = None
    g.session_problem = ""
    session_id = request.cookies.get(cookie_name(), "")
    if not session_id:
        return
    auth = current_app.extensions["backends"].auth
    try:
        v = call(auth.ValidateSession, pb.ValidateSessionRequest(session_id=session_id, client=client_info()))
    except BackendError as err:
        if err.status != 401:
            raise
        g.session_problem = "idle" if err.reason == "SESSION_IDLE" else "expired"
        g.clear_cookie = True
        return
    p = v.principal
    g.user = User(
        p.subject,
        p.role,
        p.name,
        p.city_code,
        p.point_code,
        v.csrf_token,
        v.must_change_password,
        v.idle_expires_at,
        v.public_id,
    )
    set_access_token(v.access_token)


def set_session_cookie(resp: Response, session_id: str, name: str) -> Response:
    resp.set_cookie(name, session_id, httponly=True, samesite="Lax", secure=request.is_secure, path="/")
    return resp


def clear_session_cookie(resp: Response, name: str) -> Response:
    resp.delete_cookie(name, path="/", httponly=True, samesite="Lax", secure=request.is_secure)
    return resp


# ---- CSRF ----


def _anon_token(anon_id: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"csrf:{anon_id}".encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    """The token forms and JSON calls must send back: the session's, or one bound to an anonymous cookie."""
    if g.get("user") is not None:
        return g.user.csrf_token
    if not g.get("anon_id"):
        g.anon_id = request.cookies.get(ANON_COOKIE) or secrets.token_urlsafe(24)
    return _anon_token(g.anon_id)


def check_csrf() -> None:
    """Refuse a state-changing request without the right token or from another origin."""
    if request.method in _SAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        abort(403)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
    if g.get("user") is not None:
        expected = g.user.csrf_token
    else:
        anon_id = request.cookies.get(ANON_COOKIE, "")
        expected = _anon_token(anon_id) if anon_id else ""
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        abort(403)


def is_public_endpoint(app: Flask) -> bool:
    """Endpoints of a blueprint marked `public = True` (the payment providers' signed callbacks)
    take neither a session nor a CSRF token: the service verifies their signature instead."""
    blueprint = app.blueprints.get(request.blueprint or "")
    return getattr(blueprint, "public", False) is True


def allow_form_action(url: str) -> None:
    """Let this one page post a form to another origin (a payment provider's gateway, whose
    protocol is a browser form POST); every other page keeps form-action 'self'."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not a web origin: {url!r}")
    g.form_action_origins = [*g.get("form_action_origins", []), f"{parts.scheme}://{parts.netloc}"]


def install(app: Flask) -> None:
    @app.before_request
    def _session_and_csrf() -> None:
        if request.routing_exception is not None:
            return  # no such page or method: Flask answers 404/405, not a CSRF refusal
        if request.endpoint in ("static", "health.healthz", "health.readyz") or is_public_endpoint(app):
            return
        load_user()
        check_csrf()

    @app.after_request
    def _cookies(resp: Response) -> Response:
        # Runs after the app's security headers: widens form-action only where allow_form_action asked.
        if g.get("form_action_origins") and "Content-Security-Policy" in resp.headers:
            widened = "form-action 'self' " + " ".join(g.form_action_origins)
            policy = resp.headers["Content-Security-Policy"]
            resp.headers["Content-Security-Policy"] = policy.replace("form-action 'self'", widened)
        if g.get("clear_cookie"):
            clear_session_cookie(resp, cookie_name())
        if g.get("anon_id") and request.cookies.get(ANON_COOKIE) != g.anon_id:
            resp.set_cookie(ANON_COOKIE, g.anon_id, httponly=True, samesite="Lax", secure=request.is_secure)
        if g.get("user") is not None or request.path.startswith(("/admin", "/api/")):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    app.jinja_env.globals["csrf_token"] = csrf_token


# ---- access control ----


STAFF_ROLES: tuple[str, ...] = ("province", "city", "point", "reviewer")


def login_required(staff: bool = False, allow_password_change: bool = False, roles: tuple[str, ...] = ()) -> Callable:
    """Views of one side; a session that must change its password may only do that.

    `roles` are the staff roles that may use a staff view (empty: every staff role). The view
    carries them as `staff_roles`: the one place that says who may use a route, read by the
    security tests from the url_map. The services check the role and the scope again.
    """
    allowed = tuple(roles) or STAFF_ROLES
    assert staff or not roles, "roles apply to staff views"
    assert set(allowed) <= set(STAFF_ROLES), allowed

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            login_page = "admin.login_page" if staff else "account.login_page"
            user: User | None = g.get("user")
            if user is None or user.is_staff != staff:
                if request.path.startswith("/api/"):
                    raise BackendError(401, LOGIN_NOTICES["login"], "NOT_LOGGED_IN")
                return redirect(url_for(login_page, notice=g.get("session_problem") or "login"))
            if user.must_change_password and not allow_password_change:
                if request.path.startswith("/api/"):
                    raise BackendError(403, "首次登录须修改密码", "PASSWORD_CHANGE_REQUIRED")
                return redirect(url_for("admin.password_page" if staff else "account.password_page"))
            if staff and user.role not in allowed:
                # The services' own wording, so a page reads the same whoever refuses first.
                raise BackendError(403, "无权执行此操作", "ROLE_REQUIRED")
            return view(*args, **kwargs)

        wrapper.staff_roles = allowed if staff else ()  # type: ignore[attr-defined]
        return wrapper

    return decorate
