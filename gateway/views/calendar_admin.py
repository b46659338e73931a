"""Admin side of the calendar of the year (阶段时间): the province sets each phase's window.

The registration service owns the calendar, checks the role (province only) and audits each
change; preference batches keep their own windows on the preferences pages (linked from here).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.security import login_required
from zsb.common.calendar import is_phase
from zsb.common.clock import BEIJING
from zsb.registration.v1 import registration_pb2 as pb

bp = Blueprint("calendar_admin", __name__, url_prefix="/admin/calendar")
ADMIN_MENU = [(12, "报考阶段时间", "calendar_admin.page", ("province",))]
_LOCAL_TIME = "%Y-%m-%dT%H:%M"


def reg():
    return current_app.extensions["backends"].registration


def local(ts: int) -> str:
    """A unix time as the value of a datetime-local input, in Beijing time."""
    return datetime.fromtimestamp(ts, BEIJING).strftime(_LOCAL_TIME) if ts else ""


def parse_local(raw: str, label: str) -> int:
    value = (raw or "").strip()
    if not value:
        return 0
    try:
        return int(datetime.strptime(value[:16], _LOCAL_TIME).replace(tzinfo=BEIJING).timestamp())
    except ValueError as exc:
        raise BackendError(400, f"{label}格式不正确，应为“年-月-日 时:分”", "BAD_TIME") from exc


def _page(message: str = "", error: str = "", status: int = 200):
    view = call(reg().GetCalendar, pb.GetCalendarRequest())
    changes = call(reg().ListAudit, pb.ListAuditRequest(action="calendar_changed", limit=50)).entries
    labels = {p.phase: p.label for p in view.phases}
    return (
        render_template(
            "calendar/admin.html", view=view, changes=changes, labels=labels, local=local, message=message, error=error
        ),
        status,
    )


@bp.get("")
@login_required(staff=True)
def page():
    return _page(message="已保存" if request.args.get("saved") == "1" else "")


@bp.post("/<phase>")
@login_required(staff=True)
def save(phase: str):
    if not is_phase(phase):
        return _page(error="阶段不存在", status=404)
    try:
        opens = parse_local(request.form.get("opens_at", ""), "开始时间")
        closes = parse_local(request.form.get("closes_at", ""), "结束时间")
        call(reg().SetCalendarPhase, pb.SetCalendarPhaseRequest(phase=phase, opens_at=opens, closes_at=closes))
    except BackendError as err:
        if err.status >= 500 or err.status in (401, 403):
            raise
        return _page(error=err.message, status=err.status)
    return redirect(url_for("calendar_admin.page", saved=1))
