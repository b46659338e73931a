"""Candidate side of plans and preferences: 招生计划 (2.6.4) and 志愿信息 (2.9).

The form keeps everything in the page until 确认提交: 清空 without JavaScript re-renders the
page with the row emptied and saves nothing. The service checks every rule; this module only
carries the form to it and its answers back.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.security import login_required
from zsb.preferences.v1 import preferences_pb2 as pb

bp = Blueprint("preferences", __name__)
MENU = [
    (60, "招生计划", "preferences.plan_page"),
    (70, "志愿信息", "preferences.index"),
]
SLOTS = "ABCDEFGH"
MAX_QUERY = 30
# How long before the automatic logout the page warns (the manual: 15 minutes without activity).
IDLE_WARNING_SECONDS = 120


def prefs():
    return current_app.extensions["backends"].preferences


def idle_seconds() -> int:
    """Seconds until the session ends without activity, as the auth service said on this request."""
    return max(int(g.user.idle_expires_at - time.time()), 0)


def _batch_code(raw: str) -> str:
    code = (raw or "").strip()
    if not code.isascii() or not code.isalnum() or len(code) > 16:
        abort(404)
    return code


@bp.app_context_processor
def _idle() -> dict:
    return {"idle_warning_seconds": IDLE_WARNING_SECONDS, "window_open": pb.OPEN}


# ---- 招生计划 (2.6.4) ----


@bp.get("/preferences/plan")
@login_required()
def plan_page():
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    batch = request.args.get("batch", "").strip()[:16]
    resp = call(prefs().GetPlan, pb.GetPlanRequest(query=query, batch_code=batch))
    by_batch: dict[str, list[pb.PlanLine]] = {}
    for line in resp.lines:
        by_batch.setdefault(line.batch_code, []).append(line)
    return render_template(
        "preferences/plan.html", plan=resp, by_batch=by_batch, query=query, batch=batch, batches=resp.batches
    )


# ---- 志愿信息 (2.9) ----


@bp.get("/preferences")
@login_required()
def index():
    status = call(prefs().GetStatus, pb.GetStatusRequest())
    return render_template("preferences/index.html", status=status, idle_seconds=idle_seconds())


@dataclass
class Row:
    """One row of the form as the page shows it."""

    slot: str
    institution: str = ""
    major: str = ""  # the major select's value: '<院校代号>|<专业代号>'
    errors: dict[str, str] = field(default_factory=dict)


def _rows_from_version(version: pb.Version | None) -> list[Row]:
    items = {i.slot: i for i in version.items} if version is not None else {}
    return [
        Row(s, items[s].institution_code, f"{items[s].institution_code}|{items[s].major_code}")
        if s in items
        else Row(s)
        for s in SLOTS
    ]


def _rows_from_form() -> list[Row]:
    rows = []
    for s in SLOTS:
        institution = request.form.get(f"inst_{s}", "").strip()[:16]
        major = request.form.get(f"major_{s}", "").strip()[:40]
        rows.append(Row(s, institution, major))
    return rows


def _choice(row: Row) -> pb.Choice:
    major_institution, _, major = row.major.partition("|")
    return pb.Choice(
        slot=row.slot, institution_code=row.institution, major_code=major, major_institution_code=major_institution
    )


def _render_form(
    form: pb.GetFormResponse, rows: list[Row], *, submission_id: str, message: str = "", summary=(), status: int = 200
):
    return (
        render_template(
            "preferences/form.html",
            form=form,
            batch=form.status.batch,
            rows=rows,
            submission_id=submission_id,
            message=message,
            summary=list(summary),
            is_error=status >= 400,
            idle_seconds=idle_seconds(),
        ),
        status,
    )


@bp.get("/preferences/<batch>/edit")
@login_required()
def edit(batch: str):
    """填报志愿 / 修改信息: the form, prefilled with the current version; read-only outside the window."""
    form = call(prefs().GetForm, pb.GetFormRequest(batch_code=_batch_code(batch)))
    current = form.status.current if form.status.has_current else None
    return _render_form(form, _rows_from_version(current), submission_id=secrets.token_urlsafe(24))


@bp.post("/preferences/<batch>")
@login_required()
def submit(batch: str):
    code = _batch_code(batch)
    rows = _rows_from_form()
    submission_id = request.form.get("submission_id", "")[:80]
    cleared = request.form.get("clear", "")
    if cleared:
        # 清空 without JavaScript: the row is emptied in the page only; nothing is saved.
        form = call(prefs().GetForm, pb.GetFormRequest(batch_code=code))
        rows = [Row(r.slot) if r.slot == cleared else r for r in rows]
        message = f"已清空平行志愿{cleared}（尚未保存，请点击“确认提交”）" if cleared in SLOTS else ""
        return _render_form(form, rows, submission_id=submission_id, message=message)
    request_ = pb.SubmitPreferencesRequest(
        batch_code=code, idempotency_key=submission_id, choices=[_choice(r) for r in rows if r.institution or r.major]
    )
    try:
        resp = call(prefs().SubmitPreferences, request_)
    except BackendError as err:
        if err.status >= 500 or err.status in (401, 404):
            raise
        if err.reason in ("KEY_REUSED", "BAD_KEY"):
            submission_id = secrets.token_urlsafe(24)  # the next 确认提交 is a new submission
        form = call(prefs().GetForm, pb.GetFormRequest(batch_code=code))
        return _render_form(form, rows, submission_id=submission_id, message=err.message, status=err.status)
    if resp.errors:
        by_slot = {r.slot: r for r in rows}
        summary = []
        for e in resp.errors:
            if e.slot in by_slot:
                by_slot[e.slot].errors.setdefault(e.field or "institution", e.message)
            summary.append((e.slot, e.field or "institution", e.message))
        form = call(prefs().GetForm, pb.GetFormRequest(batch_code=code))
        message = "提交未成功，志愿未保存。请修改以下问题后再点击“确认提交”："
        return _render_form(form, rows, submission_id=submission_id, message=message, summary=summary, status=400)
    return redirect(url_for("preferences.view", batch=code, submitted=resp.version.number))


@bp.get("/preferences/<batch>")
@login_required()
def view(batch: str):
    """查看志愿 (2.9.1.2, 2.9.2): the current version and the history of submissions with their times."""
    resp = call(prefs().ListVersions, pb.ListVersionsRequest(batch_code=_batch_code(batch)))
    submitted = request.args.get("submitted", "")
    return render_template(
        "preferences/view.html",
        status=resp.status,
        batch=resp.status.batch,
        versions=resp.versions,
        submitted=submitted if submitted.isdigit() else "",
        idle_seconds=idle_seconds(),
    )


@bp.get("/api/v1/preferences/keepalive")
@login_required()
def keepalive():
    """The page's 继续填报: this request is activity, so the session's idle deadline moves on."""
    return jsonify(idle_seconds=idle_seconds())
