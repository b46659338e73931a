"""Admin side of plans and preferences (province): importing the enrollment plan, the batches'
order, and the audit of those actions. The batches' filling windows are set on the calendar page
(gateway/views/calendar_admin.py), with the rest of the year."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.imports import ImportFileError, read_table
from gateway.security import login_required
from zsb.preferences.v1 import preferences_pb2 as pb

bp = Blueprint("preferences_admin", __name__, url_prefix="/admin/preferences")
ADMIN_MENU = [
    (40, "招生计划导入", "preferences_admin.plan_page", ("province",)),
    (41, "志愿批次顺序", "preferences_admin.batches_page", ("province",)),
]
# The import file's columns (its first line), as the province's template names them.
PLAN_COLUMNS = {
    "批次": "batch",
    "院校代号": "institution_code",
    "院校名称": "institution_name",
    "专业代号": "major_code",
    "专业名称": "major_name",
    "报考专业类别": "major_category",
    "计划数": "places",
}
FIELD_NAMES = {v: k for k, v in PLAN_COLUMNS.items()}
SHOWN_LINES = 500


def prefs():
    return current_app.extensions["backends"].preferences


def _plan_page(message: str = "", problems=(), imported: pb.ImportPlanResponse | None = None, status: int = 200):
    category = request.args.get("category", "").strip()[:4]
    query = request.args.get("q", "").strip()[:30]
    plan = call(prefs().GetPlan, pb.GetPlanRequest(query=query, major_category=category))
    names = {b.code: b.name for b in plan.batches}
    return (
        render_template(
            "preferences/admin_plan.html",
            columns=list(PLAN_COLUMNS),
            message=message,
            problems=list(problems),
            imported=imported,
            plan=plan,
            lines=plan.lines[:SHOWN_LINES],
            shown=SHOWN_LINES,
            batch_names=names,
            category=category,
            query=query,
        ),
        status,
    )


@bp.get("/plan")
@login_required(staff=True)  # the plan is public; only the province imports it
def plan_page():
    return _plan_page()


@bp.post("/plan")
@login_required(staff=True, roles=("province",))
def plan_import():
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ImportFileError("请选择要导入的文件")
        rows = read_table(upload.read(), PLAN_COLUMNS)
    except ImportFileError as err:
        return _plan_page(message=str(err), status=400)
    resp = call(prefs().ImportPlan, pb.ImportPlanRequest(rows=[pb.PlanRow(**r) for r in rows]))
    if resp.errors:
        # +1: the file's first line is the header, so data row 1 is line 2 of the file.
        problems = [(e.row + 1 if e.row else "", FIELD_NAMES.get(e.field, e.field), e.message) for e in resp.errors]
        message = f"导入未完成：共{len(resp.errors)}处错误，请修改后重新导入（本次未导入任何数据）"
        return _plan_page(message=message, problems=problems, status=400)
    return _plan_page(imported=resp)


# ---- batches: order (their windows are on the calendar page) ----


def _batches_page(message: str = "", error: str = "", status: int = 200):
    batches = call(prefs().ListBatches, pb.ListBatchesRequest()).batches
    actions = call(prefs().ListStaffActions, pb.ListStaffActionsRequest(limit=50)).actions
    return (
        render_template(
            "preferences/admin_batches.html",
            batches=batches,
            actions=actions,
            message=message,
            error=error,
        ),
        status,
    )


@bp.get("/batches")
@login_required(staff=True, roles=("province",))
def batches_page():
    saved = request.args.get("saved", "")
    return _batches_page(message="已保存" if saved == "1" else "")


@bp.post("/batches/order")
@login_required(staff=True, roles=("province",))
def batch_order():
    codes = [request.form[f"position_{i}"][:16] for i in range(1, 11) if f"position_{i}" in request.form]
    try:
        call(prefs().OrderBatches, pb.OrderBatchesRequest(codes=codes))
    except BackendError as err:
        if err.status >= 500 or err.status in (401, 403):
            raise
        return _batches_page(error=err.message, status=err.status)
    return redirect(url_for("preferences_admin.batches_page", saved=1))
