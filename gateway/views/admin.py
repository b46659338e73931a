"""Admin side (管理端): staff login, password, the console's home, candidate-account import and
staff accounts (the audit log is `audit_admin`)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.imports import ImportFileError, read_table
from gateway.security import (
    LOGIN_NOTICES,
    STAFF_COOKIE,
    login_required,
    set_session_cookie,
)
from gateway.views.account import PASSWORD_RULE, change_password, sign_in, sign_out
from gateway.views.forms import FormState, new_captcha, read_form, required, value
from zsb.auth.v1 import auth_pb2 as pb
from zsb.common.clock import BEIJING

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN_MENU = [
    (0, "工作台", "admin.home", ()),
    (10, "考生账号导入", "admin.import_page", ("province", "city", "point")),
    (900, "管理员账号", "admin.staff_page", ("province",)),
    (990, "修改密码", "admin.password_page", ()),
]
ROLE_NAMES = {"province": "省招生考试管理中心", "city": "地市招生考试机构", "point": "报名点", "reviewer": "审核员"}
IMPORT_COLUMNS = {
    "考生号": "candidate_no",
    "姓名": "name",
    "身份证号": "id_number",
    "手机号": "phone",
    "报名点": "point_code",
}


def auth():
    return current_app.extensions["backends"].auth


@bp.app_template_filter("beijing")
def beijing(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


@bp.app_template_filter("browser_name")
def browser_name(user_agent: str) -> str:
    """'Chrome 156 · Linux' from a User-Agent header, enough for a person to recognise a device."""
    ua = user_agent or ""
    browser = next(
        (f"{name} {m.group(1)}" for name, pattern in _BROWSERS if (m := re.search(pattern, ua))), "未知浏览器"
    )
    system = next((name for name, token in _SYSTEMS if token in ua), "")
    return f"{browser} · {system}" if system else browser


_BROWSERS = [
    ("Edge", r"Edg/(\d+)"),
    ("微信", r"MicroMessenger/(\d+)"),
    ("Chrome", r"Chrome/(\d+)"),
    ("Firefox", r"Firefox/(\d+)"),
    ("Safari", r"Version/(\d+).*Safari"),
]
_SYSTEMS = [
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("macOS", "Mac OS X"),
    ("Linux", "Linux"),
]


@bp.app_context_processor
def _role_names() -> dict:
    return {"role_names": ROLE_NAMES}


@bp.get("/login")
def login_page():
    if g.get("user") is not None and g.user.is_staff:
        return redirect(url_for("admin.home"))
    notice = LOGIN_NOTICES.get(request.args.get("notice", ""), "")
    return render_template("admin/login.html", form=FormState(message=notice), captcha=new_captcha())


@bp.post("/login")
def login():
    return sign_in(pb.STAFF, "username", "用户名", "admin", STAFF_COOKIE, "admin/login.html")


@bp.post("/logout")
def logout():
    return sign_out(STAFF_COOKIE, "admin.login_page")


@bp.get("")
@login_required(staff=True)
def home():
    return render_template("admin/home.html")


@bp.get("/password")
@login_required(staff=True, allow_password_change=True)
def password_page():
    return render_template("admin/password.html", form=FormState(), rule=PASSWORD_RULE)


@bp.post("/password")
@login_required(staff=True, allow_password_change=True)
def password_change():
    state, new_session = change_password(STAFF_COOKIE)
    if new_session:
        return set_session_cookie(redirect(url_for("admin.home")), new_session, STAFF_COOKIE)
    return render_template("admin/password.html", form=state, rule=PASSWORD_RULE), 400


# ---- candidate accounts (报名点 imports its candidates) ----


@bp.get("/candidates/import")
@login_required(staff=True, roles=("province", "city", "point"))
def import_page():
    return render_template("admin/import.html", columns=list(IMPORT_COLUMNS), problems=[], message="")


@bp.post("/candidates/import")
@login_required(staff=True, roles=("province", "city", "point"))
def import_candidates():
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ImportFileError("请选择要导入的文件")
        rows = read_table(upload.read(), IMPORT_COLUMNS)
    except ImportFileError as err:
        return render_template("admin/import.html", columns=list(IMPORT_COLUMNS), problems=[], message=str(err)), 400
    resp = call(
        auth().CreateCandidateAccounts, pb.CreateCandidateAccountsRequest(rows=[pb.CandidateRow(**r) for r in rows])
    )
    if resp.errors:
        problems = [(e.row + 1 if e.row else "", e.field, e.message) for e in resp.errors]  # +1: the header line
        return render_template(
            "admin/import.html",
            columns=list(IMPORT_COLUMNS),
            problems=problems,
            message="导入未完成：请修改以下错误后重新导入（本次未导入任何考生）",
        ), 400
    # The initial passwords leave the platform once, in this file, and are not kept anywhere.
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["考生号", "初始密码"])
    writer.writerows([a.candidate_no, a.initial_password] for a in resp.accounts)
    stamp = datetime.now(BEIJING).strftime("%Y%m%d%H%M%S")
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename=initial-passwords-{stamp}.csv",
            "Cache-Control": "no-store",
        },
    )


# ---- staff accounts (province) ----


@bp.get("/staff")
@login_required(staff=True, roles=("province",))
def staff_page():
    return render_template("admin/staff.html", form=FormState(), created=None)


@bp.post("/staff")
@login_required(staff=True, roles=("province",))
def staff_create():
    state = read_form(["username", "name", "role", "city_code", "point_code"])
    required(state, {"username": "用户名", "name": "姓名", "role": "角色"})
    if not state.errors:
        try:
            resp = call(
                auth().CreateStaffAccount,
                pb.CreateStaffAccountRequest(
                    username=value(state, "username"),
                    name=value(state, "name"),
                    role=value(state, "role"),
                    city_code=value(state, "city_code"),
                    point_code=value(state, "point_code"),
                ),
            )
        except BackendError as err:
            if err.status >= 500 or err.status == 403:
                raise
            state.error(err.field or "username", err.message)
        else:
            return render_template("admin/staff.html", form=FormState(), created=resp)
    return render_template("admin/staff.html", form=state, created=None), 400
