"""Candidate side: login (2.3), first-login password change (2.4), forgotten password (2.5),
sessions, logout and the home page."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.security import (
    CANDIDATE_COOKIE,
    LOGIN_NOTICES,
    clear_session_cookie,
    client_info,
    login_required,
    set_session_cookie,
)
from gateway.views.forms import FormState, new_captcha, read_form, required, value
from zsb.auth.v1 import auth_pb2 as pb

bp = Blueprint("account", __name__)
MENU = [
    (0, "首页", "account.home"),
    (900, "登录设备管理", "account.sessions_page"),
    (910, "修改密码", "account.password_page"),
]
# The rule as the manual shows it on the page; the auth service enforces it.
PASSWORD_RULE = (
    "密码长度为12-16位，须同时包含大写字母、小写字母、数字和特殊字符（!@#%&*_），"  # noqa: S105 - not a password
    "且不能与原密码或考生号相同。"
)
_CANDIDATE_NO = re.compile(r"^[0-9]{14}$")


def auth():
    return current_app.extensions["backends"].auth


def _field_error(state: FormState, err: BackendError, default_field: str) -> None:
    state.error(
        err.field if err.field in state.values or f"_{err.field}" in state.values else default_field, err.message
    )


@bp.get("/")
def login_page():
    if g.get("user") is not None and not g.user.is_staff:
        return redirect(url_for("account.home"))
    notice = LOGIN_NOTICES.get(request.args.get("notice", ""), "")
    return render_template("login.html", form=FormState(message=notice), captcha=new_captcha())


@bp.get("/captcha")
def captcha_json():
    """A fresh captcha for the 换一张 button."""
    return jsonify(new_captcha())


def sign_in(kind: int, username_field: str, label: str, side: str, cookie: str, template: str):
    """The shared body of both sides' login forms (2.3): check the fields, then the auth service."""
    state = read_form([username_field, "password", "captcha", "captcha_id"], secret=("password",))
    required(state, {username_field: label, "password": "密码", "captcha": "验证码"})
    if kind == pb.CANDIDATE and value(state, username_field) and not _CANDIDATE_NO.match(value(state, username_field)):
        state.error(username_field, "考生号应为14位数字")
    if not state.errors:
        try:
            resp = call(
                auth().Login,
                pb.LoginRequest(
                    kind=kind,
                    username=value(state, username_field),
                    password=value(state, "password"),
                    captcha_id=value(state, "captcha_id"),
                    captcha_answer=value(state, "captcha"),
                    client=client_info(),
                ),
            )
        except BackendError as err:
            if err.status >= 500:
                raise
            _field_error(state, err, "password")
        else:
            target = f"{side}.password_page" if resp.must_change_password else f"{side}.home"
            return set_session_cookie(redirect(url_for(target)), resp.session_id, cookie)
    return render_template(template, form=state, captcha=new_captcha()), 400


def sign_out(cookie: str, login_endpoint: str):
    session_id = request.cookies.get(cookie, "")
    if session_id:
        call(auth().Logout, pb.LogoutRequest(session_id=session_id))
    return clear_session_cookie(redirect(url_for(login_endpoint, notice="logout")), cookie)


@bp.post("/login")
def login():
    return sign_in(pb.CANDIDATE, "candidate_no", "考生号", "account", CANDIDATE_COOKIE, "login.html")


@bp.post("/logout")
def logout():
    return sign_out(CANDIDATE_COOKIE, "account.login_page")


@bp.get("/home")
@login_required()
def home():
    return render_template("home.html")


# ---- password change (first login and later) ----


@bp.get("/password/change")
@login_required(allow_password_change=True)
def password_page():
    return render_template("password_change.html", form=FormState(), rule=PASSWORD_RULE)


def change_password(cookie: str) -> tuple[FormState, str]:
    """The shared body of both sides' password forms; returns (state, new session id or '')."""
    state = read_form(
        ["old_password", "new_password", "confirm_password"],
        secret=("old_password", "new_password", "confirm_password"),
    )
    required(state, {"old_password": "原密码", "new_password": "新密码", "confirm_password": "确认密码"})
    if not state.errors and value(state, "new_password") != value(state, "confirm_password"):
        state.error("confirm_password", "两次输入的新密码不一致")
    if state.errors:
        return state, ""
    try:
        resp = call(
            auth().ChangePassword,
            pb.ChangePasswordRequest(
                session_id=request.cookies.get(cookie, ""),
                old_password=value(state, "old_password"),
                new_password=value(state, "new_password"),
                client=client_info(),
            ),
        )
    except BackendError as err:
        if err.status >= 500 or err.status == 401:
            raise
        _field_error(state, err, "new_password")
        return state, ""
    return state, resp.session_id


@bp.post("/password/change")
@login_required(allow_password_change=True)
def password_change():
    state, new_session = change_password(CANDIDATE_COOKIE)
    if new_session:
        resp = redirect(url_for("account.sessions_page", changed=1))
        return set_session_cookie(resp, new_session, CANDIDATE_COOKIE)
    return render_template("password_change.html", form=state, rule=PASSWORD_RULE), 400


# ---- sessions ----


@bp.get("/account/sessions")
@login_required()
def sessions_page():
    sessions = call(auth().ListSessions, pb.ListSessionsRequest(session_id=request.cookies.get(CANDIDATE_COOKIE, "")))
    return render_template("sessions.html", sessions=sessions.sessions, changed=request.args.get("changed") == "1")


@bp.post("/account/sessions/revoke")
@login_required()
def sessions_revoke():
    public_id = request.form.get("public_id", "")[:16]
    call(
        auth().RevokeSession,
        pb.RevokeSessionRequest(session_id=request.cookies.get(CANDIDATE_COOKIE, ""), public_id=public_id),
    )
    return redirect(url_for("account.sessions_page"))


# ---- forgotten password (2.5) ----


@bp.get("/password/forgot")
def forgot_page():
    return render_template("password_forgot.html", form=FormState(), captcha=new_captcha())


@bp.post("/password/forgot")
def forgot():
    state = read_form(["candidate_no", "id_number", "phone", "captcha", "captcha_id"])
    required(state, {"candidate_no": "考生号", "id_number": "身份证号", "phone": "手机号", "captcha": "验证码"})
    if not state.errors:
        try:
            resp = call(
                auth().RequestPasswordReset,
                pb.RequestPasswordResetRequest(
                    candidate_no=value(state, "candidate_no"),
                    id_number=value(state, "id_number"),
                    phone=value(state, "phone"),
                    captcha_id=value(state, "captcha_id"),
                    captcha_answer=value(state, "captcha"),
                    client=client_info(),
                ),
            )
        except BackendError as err:
            if err.status >= 500:
                raise
            _field_error(state, err, "candidate_no")
        else:
            form = FormState(values={"candidate_no": value(state, "candidate_no")})
            return render_template("password_reset.html", form=form, masked_phone=resp.masked_phone, rule=PASSWORD_RULE)
    return render_template("password_forgot.html", form=state, captcha=new_captcha()), 400


@bp.post("/password/reset")
def reset():
    state = read_form(
        ["candidate_no", "code", "new_password", "confirm_password"], secret=("new_password", "confirm_password")
    )
    required(state, {"code": "短信验证码", "new_password": "新密码", "confirm_password": "确认密码"})
    if not state.errors and value(state, "new_password") != value(state, "confirm_password"):
        state.error("confirm_password", "两次输入的新密码不一致")
    if not state.errors:
        try:
            call(
                auth().ResetPassword,
                pb.ResetPasswordRequest(
                    candidate_no=value(state, "candidate_no"),
                    code=value(state, "code"),
                    new_password=value(state, "new_password"),
                    client=client_info(),
                ),
            )
        except BackendError as err:
            if err.status >= 500:
                raise
            _field_error(state, err, "code")
        else:
            return redirect(url_for("account.login_page", notice="reset"))
    return render_template("password_reset.html", form=state, masked_phone="", rule=PASSWORD_RULE), 400
