"""Admin side of the calendar of the year (报考阶段时间): the whole year on one page.

- the phases the registration service owns (网上报名 … 成绩查询): set here, the registration
  service checks the role (province only), audits and publishes each change;
- each preference batch's filling window (志愿填报): read and set here through the preferences
  service, which stays their owner and enforcer (ScheduleBatch, province only, audited);
- 征集志愿: shown here; its window is published with the vacancies after a batch's 退档 review,
  on the 退档与征集志愿 page, because setting it is that publication.

City staff may read the page; every change they try is refused by the owning service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.security import login_required
from zsb.common.calendar import is_phase
from zsb.common.clock import BEIJING
from zsb.preferences.v1 import preferences_pb2 as pref_pb
from zsb.registration.v1 import registration_pb2 as pb
from zsb.results.v1 import results_pb2 as res_pb

bp = Blueprint("calendar_admin", __name__, url_prefix="/admin/calendar")
ADMIN_MENU = [(12, "报考阶段时间", "calendar_admin.page", ())]
_LOCAL_TIME = "%Y-%m-%dT%H:%M"
BATCH_CODE_MAX = 16


def reg():
    return current_app.extensions["backends"].registration


def prefs():
    return current_app.extensions["backends"].preferences


def results():
    return current_app.extensions["backends"].results


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


def _shown(err: BackendError) -> bool:
    """Refusals a form shows in place; the rest go to the error page."""
    return err.status < 500 and err.status not in (401, 403)


@dataclass
class OtherOwners:
    """What the preferences and results services say; a part they cannot answer now is named."""

    batches: list = field(default_factory=list)
    batch_changes: list = field(default_factory=list)
    solicitations: list = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


def _other_owners() -> OtherOwners:
    out = OtherOwners()
    try:
        out.batches = list(call(prefs().ListBatches, pref_pb.ListBatchesRequest()).batches)
    except BackendError as err:
        if err.status < 500:
            raise
        out.unavailable.append("志愿填报批次")
    try:  # the audit of the preferences service: the province reads it
        actions = call(prefs().ListStaffActions, pref_pb.ListStaffActionsRequest(limit=50)).actions
        out.batch_changes = [a for a in actions if a.action == "batch_scheduled"]
    except BackendError as err:
        if err.status >= 500:
            out.unavailable.append("志愿填报时间的修改记录")
        elif err.status != 403:
            raise
    try:  # the admission phases: the province reads them
        phases = call(results().ListPhases, res_pb.ListPhasesRequest()).phases
        with_solicitation = {p.batch_code for p in phases if p.stage == "solicitation"}
        out.solicitations = [p for p in phases if p.stage == "regular" and p.batch_code in with_solicitation]
    except BackendError as err:
        if err.status >= 500:
            out.unavailable.append("征集志愿")
        elif err.status != 403:
            raise
    return out


def _page(message: str = "", error: str = "", status: int = 200):
    view = call(reg().GetCalendar, pb.GetCalendarRequest())
    changes = call(reg().ListAudit, pb.ListAuditRequest(action="calendar_changed", limit=50)).entries
    labels = {p.phase: p.label for p in view.phases}
    return (
        render_template(
            "calendar/admin.html",
            view=view,
            changes=changes,
            labels=labels,
            local=local,
            message=message,
            error=error,
            others=_other_owners(),
            can_edit=g.user.role == "province",
        ),
        status,
    )


@bp.get("")
@login_required(staff=True)  # every staff reads the year's calendar; the province alone sets it
def page():
    return _page(message="已保存" if request.args.get("saved") == "1" else "")


@bp.post("/<phase>")
@login_required(staff=True, roles=("province",))
def save(phase: str):
    if not is_phase(phase):
        return _page(error="阶段不存在", status=404)
    try:
        opens = parse_local(request.form.get("opens_at", ""), "开始时间")
        closes = parse_local(request.form.get("closes_at", ""), "结束时间")
        call(reg().SetCalendarPhase, pb.SetCalendarPhaseRequest(phase=phase, opens_at=opens, closes_at=closes))
    except BackendError as err:
        if not _shown(err):
            raise
        return _page(error=err.message, status=err.status)
    return redirect(url_for("calendar_admin.page", saved=1))


@bp.post("/batch/<code>")
@login_required(staff=True, roles=("province",))
def save_batch(code: str):
    """A preference batch's filling window, set in the preferences service (both ends or neither)."""
    try:
        opens = parse_local(request.form.get("opens_at", ""), "开始时间")
        closes = parse_local(request.form.get("closes_at", ""), "结束时间")
        request_ = pref_pb.ScheduleBatchRequest(code=code[:BATCH_CODE_MAX], opens_at=opens, closes_at=closes)
        call(prefs().ScheduleBatch, request_)
    except BackendError as err:
        if not _shown(err):
            raise
        return _page(error=err.message, status=err.status)
    return redirect(url_for("calendar_admin.page", saved=1))
