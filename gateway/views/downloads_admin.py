"""Admin side of 表格下载: the exam plan (考点, 考场, 考试日程; 准考证打印 is a calendar phase), the arrangement
(编排, 审核, 发布) and a candidate's documents for staff in scope.

The province edits and publishes; city staff see their city. The registration service checks
role and scope on every call; the menus only hide what a role cannot use.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.reference import reference_data
from gateway.security import login_required
from gateway.views.downloads import KINDS, pdf_response
from zsb.registration.v1 import registration_pb2 as pb

bp = Blueprint("forms_admin", __name__, url_prefix="/admin/exam")
ADMIN_MENU = [
    (50, "考试安排", "forms_admin.plan", ("province", "city")),
    (55, "考场编排", "forms_admin.arrangement", ("province", "city")),
    (60, "考生表格", "forms_admin.candidate_forms", ()),
]
KIND_LABELS = {"registration": "报名信息登记表", "medical": "体检表", "bonus": "录取加分登记表", "ticket": "考生准考证"}
PAGE_SIZE = 100
MAX_ROOM_LINES = 500
STATUS_LABELS = {"draft": "待审核", "published": "已发布", "superseded": "已被替代", "discarded": "已放弃"}


def reg():
    return current_app.extensions["backends"].registration


def _form(name: str, size: int = 200) -> str:
    return request.form.get(name, "").strip()[:size]


# ---- the plan ----


def parse_rooms(text: str) -> tuple[list[pb.ExamRoom], str]:
    """'考场号,座位数[,位置]' per line (a Chinese comma works too) → rooms, or a message."""
    rooms: list[pb.ExamRoom] = []
    lines = [line.strip() for line in text.replace("，", ",").splitlines() if line.strip()]
    if len(lines) > MAX_ROOM_LINES:
        return [], f"一次最多填写{MAX_ROOM_LINES}个考场"
    for i, line in enumerate(lines, 1):
        parts = [p.strip() for p in line.split(",", 2)]
        if len(parts) < 2 or not parts[1].isdigit():
            return [], f"第{i}行格式不正确，应为：考场号,座位数,位置（位置可省略）"
        rooms.append(
            pb.ExamRoom(room_no=parts[0][:10], capacity=int(parts[1][:4]), location=(parts[2:] or [""])[0][:60])
        )
    return rooms, ""


def rooms_text(site: pb.ExamSite) -> str:
    return "\n".join(f"{r.room_no},{r.capacity}" + (f",{r.location}" if r.location else "") for r in site.rooms)


def render_plan(
    plan: pb.ExamPlan | None = None,
    errors: dict[str, str] | None = None,
    site_form: dict | None = None,
    session_form: dict | None = None,
    settings_form: dict | None = None,
    message: str = "",
    status: int = 200,
):
    plan = plan or call(reg().GetExamPlan, pb.GetExamPlanRequest())
    editing = request.args.get("site", "")[:10]
    if site_form is None:
        site = next((s for s in plan.sites if s.code == editing), None)
        site_form = (
            {
                "code": site.code,
                "name": site.name,
                "city_code": site.city_code,
                "address": site.address,
                "rooms": rooms_text(site),
            }
            if site
            else {}
        )
    s = plan.settings
    settings_form = settings_form or {"exam_title": s.exam_title, "arrangement_seed": s.arrangement_seed}
    # The printing window is the calendar's 准考证打印 phase: shown here, set on the calendar page.
    phases = call(reg().GetCalendar, pb.GetCalendarRequest()).phases
    return render_template(
        "downloads/admin_plan.html",
        plan=plan,
        ticket_phase=next(p for p in phases if p.phase == "ticket_printing"),
        ref=reference_data(),
        errors=errors or {},
        site_form=site_form,
        session_form=session_form or {},
        settings_form=settings_form,
        message=message,
    ), status


def _attempt(fn, *, site_form=None, session_form=None, settings_form=None, errors=None):
    """Call the service; a refusal re-renders the page with the message next to its field."""
    try:
        fn()
    except BackendError as err:
        if err.status not in (400, 403, 404, 409):
            raise
        return render_plan(
            errors={**(errors or {}), err.field or "form": err.message},
            site_form=site_form,
            session_form=session_form,
            settings_form=settings_form,
            status=err.status,
        )
    return None


@bp.get("/plan")
@login_required(staff=True, roles=("province", "city"))
def plan():
    return render_plan(message="已保存" if request.args.get("saved") else "")


@bp.post("/settings")
@login_required(staff=True, roles=("province",))
def settings_save():
    form = {k: _form(k, 60) for k in ("exam_title", "arrangement_seed")}
    message = pb.ExamSettings(exam_title=form["exam_title"], arrangement_seed=form["arrangement_seed"])
    if failed := _attempt(lambda: call(reg().SaveExamSettings, message), settings_form=form):
        return failed
    return redirect(url_for("forms_admin.plan", saved=1))


@bp.post("/sites")
@login_required(staff=True, roles=("province",))
def site_save():
    form = {k: _form(k) for k in ("code", "name", "city_code", "address")}
    form["rooms"] = request.form.get("rooms", "")[:40_000]
    rooms, problem = parse_rooms(form["rooms"])
    if problem:
        return render_plan(errors={"rooms": problem}, site_form=form, status=400)
    site = pb.ExamSite(
        code=form["code"], name=form["name"], city_code=form["city_code"], address=form["address"], rooms=rooms
    )
    if failed := _attempt(lambda: call(reg().SaveExamSite, pb.SaveExamSiteRequest(site=site)), site_form=form):
        return failed
    return redirect(url_for("forms_admin.plan", saved=1))


@bp.post("/sites/<code>/delete")
@login_required(staff=True, roles=("province",))
def site_delete(code: str):
    if failed := _attempt(lambda: call(reg().DeleteExamSite, pb.DeleteExamSiteRequest(code=code[:10]))):
        return failed
    return redirect(url_for("forms_admin.plan", saved=1))


@bp.post("/sessions")
@login_required(staff=True, roles=("province",))
def session_save():
    form = {k: _form(k, 40) for k in ("major_category", "subject", "day", "start", "end")}
    session = pb.ExamSession(**form)
    if failed := _attempt(
        lambda: call(reg().SaveExamSession, pb.SaveExamSessionRequest(session=session)), session_form=form
    ):
        return failed
    return redirect(url_for("forms_admin.plan", saved=1))


@bp.post("/sessions/<int:session_id>/delete")
@login_required(staff=True, roles=("province",))
def session_delete(session_id: int):
    if failed := _attempt(lambda: call(reg().DeleteExamSession, pb.DeleteExamSessionRequest(id=session_id))):
        return failed
    return redirect(url_for("forms_admin.plan", saved=1))


# ---- the arrangement ----


def render_arrangement(view: pb.ArrangementView | None = None, message: str = "", status: int = 200):
    view = view or call(reg().GetArrangement, pb.GetArrangementRequest())
    ref = reference_data()
    majors = {m["code"]: f"{m['name']}({m['code']})" for m in ref.get("major_categories", [])}
    return render_template(
        "downloads/admin_arrangement.html", a=view, majors=majors, statuses=STATUS_LABELS, message=message
    ), status


@bp.get("/arrangement")
@login_required(staff=True, roles=("province", "city"))
def arrangement():
    arrangement_id = request.args.get("id", "")
    view = None
    if arrangement_id.isdigit():
        view = call(reg().GetArrangement, pb.GetArrangementRequest(arrangement_id=int(arrangement_id)))
    return render_arrangement(view)


def _arrangement_action(fn) -> object:
    try:
        view = fn()
    except BackendError as err:
        if err.status not in (400, 403, 404, 409):
            raise
        return render_arrangement(message=err.message, status=err.status)
    return redirect(url_for("forms_admin.arrangement", id=view.id))


@bp.post("/arrangement/run")
@login_required(staff=True, roles=("province",))
def arrangement_run():
    keep = request.form.get("keep_published") == "1"
    return _arrangement_action(
        lambda: call(reg().RunArrangement, pb.RunArrangementRequest(keep_published=keep), timeout=120)
    )


@bp.post("/arrangement/<int:arrangement_id>/publish")
@login_required(staff=True, roles=("province",))
def arrangement_publish(arrangement_id: int):
    return _arrangement_action(
        lambda: call(reg().PublishArrangement, pb.PublishArrangementRequest(arrangement_id=arrangement_id))
    )


@bp.post("/arrangement/<int:arrangement_id>/discard")
@login_required(staff=True, roles=("province",))
def arrangement_discard(arrangement_id: int):
    return _arrangement_action(
        lambda: call(reg().DiscardArrangement, pb.DiscardArrangementRequest(arrangement_id=arrangement_id))
    )


@bp.get("/arrangement/<int:arrangement_id>/seats")
@login_required(staff=True, roles=("province", "city"))
def seats(arrangement_id: int):
    filters = {
        "city_code": request.args.get("city_code", "")[:2],
        "site_code": request.args.get("site_code", "").strip()[:10],
        "room_no": request.args.get("room_no", "").strip()[:10],
        "candidate_no": request.args.get("candidate_no", "").strip()[:14],
    }
    page_arg = request.args.get("page", "1")
    page = max(int(page_arg), 1) if page_arg.isdigit() else 1
    resp = call(
        reg().ListSeatAssignments,
        pb.ListSeatAssignmentsRequest(
            arrangement_id=arrangement_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters
        ),
    )
    ref = reference_data()
    return render_template(
        "downloads/admin_seats.html",
        arrangement_id=arrangement_id,
        rows=resp.rows,
        total=resp.total,
        filters=filters,
        page=page,
        pages=max((resp.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        ref=ref,
        majors={m["code"]: f"{m['name']}({m['code']})" for m in ref.get("major_categories", [])},
    )


# ---- a candidate's documents, for staff in scope ----


@bp.get("/forms")
@login_required(staff=True)
def candidate_forms():
    number = request.args.get("candidate_no", "").strip()[:14]
    found, message, status = None, "", 200
    if number:
        try:
            found = call(reg().GetCandidateRegistration, pb.GetCandidateRegistrationRequest(candidate_no=number))
        except BackendError as err:
            if err.status not in (400, 403, 404):
                raise
            message, status = err.message, err.status
    return render_template(
        "downloads/admin_forms.html", number=number, r=found, message=message, kinds=KIND_LABELS
    ), status


@bp.get("/forms/<candidate_no>/<kind>.pdf")
@login_required(staff=True)
def candidate_form_file(candidate_no: str, kind: str):
    if kind not in KINDS:
        return render_template("error.html", status=404, message="页面不存在"), 404
    try:
        f = call(reg().DownloadForm, pb.DownloadFormRequest(kind=kind, candidate_no=candidate_no[:14]), timeout=60)
    except BackendError as err:
        if err.status != 409:
            raise
        return render_template(
            "downloads/admin_forms.html", number=candidate_no[:14], r=None, message=err.message, kinds=KIND_LABELS
        ), 409
    return pdf_response(f)
