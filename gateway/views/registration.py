"""Candidate side of registration: 个人信息 (2.7) and 报考信息 → 我的报考 (2.8.1-2.8.6).

The pages only present and forward: the registration service decides every rule (step order,
the 10-second reading time, the report lock, file checks). A refused step shows the service's
message; a form comes back with every field error next to its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from werkzeug.routing import BuildError

from gateway.errors import BackendError, call, read_chunked
from gateway.reference import reference_data
from gateway.security import CANDIDATE_COOKIE, client_info, login_required
from gateway.views.forms import FormState, new_captcha
from zsb.auth.v1 import auth_pb2 as auth_pb
from zsb.common.pii import mask_id_number, mask_phone
from zsb.common.validators import MAINLAND_PROVINCES
from zsb.preferences.v1 import preferences_pb2 as pref_pb
from zsb.registration.v1 import registration_pb2 as pb

bp = Blueprint("registration", __name__)
MENU = [
    (10, "个人信息", "registration.profile"),
    (20, "报考信息", "registration.index"),
]

NOTICES = ("instructions", "discipline", "pledge")
# The pages of the steps; identity, payment and forms belong to other services' pages, linked
# when their blueprint is installed (else by path, or not at all).
STEP_ENDPOINTS = {
    "notice": ("registration.notice_page", {"notice": "instructions"}),
    "basic_info": ("registration.basic_info_page", {}),
    "confirm": ("registration.confirm_page", {}),
    "identity": ("identity.index", {}),
    "payment": ("payment.index", {}),
    "qualification": ("registration.documents_page", {}),
    "forms": ("forms.index", {}),
}
STEP_FALLBACK_PATHS = {"identity": "/identity", "payment": "/payment"}
FORM_FIELDS = (
    "name",
    "sex",
    "ethnicity",
    "political_status",
    "birth_date",
    "id_number",
    "phone",
    "graduated_school",
    "college_major_code",
    "college_major_name",
    "candidate_category",
    "candidate_type",
    "poverty_registered",
    "claims_bonus_points",
    "awards",
    "city_code",
    "point_code",
    "major_category",
    "music_test_subject",
    "household_province",
    "household_city",
    "household_district",
    "recipient",
    "recipient_phone",
    "postal_code",
    "mailing_address",
)
MAX_VALUE = 1000  # the service checks each field's own limit; this only bounds the request
MAX_RESUME_ROWS = 20
MAX_UPLOAD = 10 * 1024 * 1024


def auth_stub():
    return current_app.extensions["backends"].auth


def reg():
    return current_app.extensions["backends"].registration


def mine() -> pb.Registration:
    return call(reg().GetMyRegistration, pb.GetMyRegistrationRequest())


def step_url(step: str) -> str:
    """The page of a step, or '' when no page for it is installed yet."""
    endpoint, args = STEP_ENDPOINTS[step]
    try:
        return url_for(endpoint, **args)
    except BuildError:
        return STEP_FALLBACK_PATHS.get(step, "")


def step_state(r: pb.Registration, step: str) -> str:
    return next((s.state for s in r.steps if s.step == step), "locked")


def blocked_message(r: pb.Registration, step: str) -> str:
    """Why a step's page cannot open: the first step before it that is not done."""
    for s in r.steps:
        if s.step == step:
            break
        if s.state != "done":
            return f"请先完成“{s.label}”"
    if r.status == "abandoned":
        return "您已放弃报名，不能继续操作"
    return ""


def guard(r: pb.Registration, step: str) -> Response | None:
    """Send a candidate who skips ahead back to 我的报考, which says what to do first."""
    if r.status == "abandoned" and step != "confirm":
        return redirect(url_for("registration.index", blocked=step))
    if step_state(r, step) == "locked":
        return redirect(url_for("registration.index", blocked=step))
    return None


@bp.app_context_processor
def _registration_helpers() -> dict:
    return {"reg_step_url": step_url}


# ---- 个人信息 (2.7) ----


@bp.get("/profile")
@login_required()
def profile():
    r = mine()
    masked = {"id_number": mask_id_number, "phone": mask_phone, "recipient_phone": mask_phone}
    display = [(f.label, masked[f.key](f.value) if f.key in masked and f.value else f.value) for f in r.display]
    return render_template("registration/profile.html", r=r, display=display)


# ---- 我的报考 (2.8) ----


@bp.get("/registration")
@login_required()
def index():
    r = mine()
    blocked = request.args.get("blocked", "")
    message = blocked_message(r, blocked) if blocked in STEP_ENDPOINTS else ""
    calendar = call(reg().GetCalendar, pb.GetCalendarRequest())  # what is open, when the next step opens
    return render_template(
        "registration/index.html",
        r=r,
        message=message,
        current=r.current_step,
        calendar=calendar,
        batches=preference_batches(),
    )


def preference_batches() -> list:
    """The preference batches' windows (the preferences service owns them), for 报考日程.

    A courtesy on this page: if the preferences service cannot answer now, the page still shows
    the registration and the phases, without the batches (logged, not hidden).
    """
    stub = current_app.extensions["backends"].preferences
    try:
        return list(call(stub.ListBatches, pref_pb.ListBatchesRequest(), timeout=3.0).batches)
    except BackendError as err:
        current_app.logger.warning("preference batches unavailable for 报考日程: %s %s", err.status, err.reason)
        return []


# ---- 报考须知 (2.8.1) ----


@bp.get("/registration/notice/<notice>")
@login_required()
def notice_page(notice: str):
    if notice not in NOTICES:
        abort(404)
    r = mine()
    if redirect_to := guard(r, "notice"):
        return redirect_to
    view = next(n for n in r.notices if n.notice == notice)
    if view.acknowledged_at == 0:
        if not view.open:
            first = next(n for n in r.notices if not n.acknowledged_at)
            return redirect(url_for("registration.notice_page", notice=first.notice))
        view = call(reg().ShowNotice, pb.ShowNoticeRequest(notice=notice))  # starts the server's clock
    return render_template("registration/notice.html", r=r, view=view, message="", current="notice")


@bp.post("/registration/notice/<notice>")
@login_required()
def notice_acknowledge(notice: str):
    if notice not in NOTICES:
        abort(404)
    try:
        r = call(reg().AcknowledgeNotice, pb.AcknowledgeNoticeRequest(notice=notice))
    except BackendError as err:
        if err.reason not in ("NOTICE_TOO_SOON", "NOTICE_NOT_SHOWN"):
            raise
        r = mine()
        view = call(reg().ShowNotice, pb.ShowNoticeRequest(notice=notice))
        return render_template(
            "registration/notice.html", r=r, view=view, message=err.message, current="notice"
        ), err.status
    following = NOTICES.index(notice) + 1
    if following < len(NOTICES):
        return redirect(url_for("registration.notice_page", notice=NOTICES[following]))
    ready = step_state(r, "basic_info") != "locked"
    return redirect(url_for("registration.basic_info_page") if ready else url_for("registration.index"))


# ---- 填写基本信息 (2.8.2) ----


@dataclass
class FormPage:
    values: dict[str, str] = field(default_factory=dict)
    resume: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""


def reference() -> dict[str, Any]:
    data = dict(reference_data())
    data["household_provinces"] = [{"code": c, "name": n} for c, n in MAINLAND_PROVINCES.items()]
    return data


def form_from_registration(r: pb.Registration) -> FormPage:
    if not r.has_basic_info:
        # A fresh form: the account's point and city, and one empty resume row.
        page = FormPage(values={"city_code": r.city_code, "point_code": r.point_code, "name": r.name})
        page.resume = [{"start": "", "end": "", "unit": "", "role": ""}]
        return page
    info = r.basic_info
    page = FormPage(values={k: getattr(info, k) for k in FORM_FIELDS})
    page.resume = [{"start": x.start, "end": x.end, "unit": x.unit, "role": x.role} for x in info.resume]
    return page


def _text(name: str) -> str:
    return request.form.get(name, "")[:MAX_VALUE].strip()


def form_from_request() -> FormPage:
    page = FormPage(values={k: _text(k) for k in FORM_FIELDS})
    for i in range(MAX_RESUME_ROWS):
        row = {part: _text(f"resume-{i}-{part}") for part in ("start", "end", "unit", "role")}
        if f"resume-{i}-start" not in request.form:
            break
        page.resume.append(row)
    return page


def render_form(r: pb.Registration, page: FormPage, status: int = 200):
    return render_template(
        "registration/basic_info.html", r=r, form=page, ref=reference(), current="basic_info"
    ), status


@bp.get("/registration/basic-info")
@login_required()
def basic_info_page():
    r = mine()
    if redirect_to := guard(r, "basic_info"):
        return redirect_to
    return render_form(r, form_from_registration(r))


@bp.post("/registration/basic-info")
@login_required()
def basic_info_save():
    page = form_from_request()
    r = mine()
    # Adding or removing a 个人简历 row without script: the form comes back, nothing is saved.
    if "add_row" in request.form:
        if len(page.resume) < MAX_RESUME_ROWS:
            page.resume.append({"start": "", "end": "", "unit": "", "role": ""})
        return render_form(r, page)
    if (remove := request.form.get("remove_row", "")).isdigit():
        index = int(remove)
        if 0 <= index < len(page.resume) and len(page.resume) > 1:
            page.resume.pop(index)
        return render_form(r, page)
    info = pb.BasicInfo(**page.values)
    for row in page.resume:
        if any(row.values()):  # blank rows are the untouched extra ones
            info.resume.add(**row)
    try:
        resp = call(reg().SaveBasicInfo, pb.SaveBasicInfoRequest(info=info))
    except BackendError as err:
        if err.status != 409:
            raise
        page.message = err.message  # locked, confirmed, or a step not open: the form stays as typed
        return render_form(r, page, 409)
    if not resp.saved:
        page.errors = {e.field: e.message for e in resp.errors}
        page.message = f"报名信息有{len(page.errors)}处需要修改，请按提示修改后再提交"
        return render_form(r, page, 400)
    return redirect(url_for("registration.confirm_page"))


# ---- 信息确认 (2.8.3) and 放弃报名 ----


@bp.get("/registration/confirm")
@login_required()
def confirm_page():
    r = mine()
    if redirect_to := guard(r, "confirm"):
        return redirect_to
    return render_template(
        "registration/confirm.html",
        r=r,
        message="",
        errors={},
        current="confirm",
        captcha=new_captcha(),
        abandon_form=FormState(),
        code_sent="",
    )


@bp.post("/registration/confirm")
@login_required()
def confirm():
    call(reg().ConfirmRegistration, pb.ConfirmRegistrationRequest())
    return redirect(url_for("registration.index"))


def confirm_view(errors: dict[str, str], code_sent: str = "", status: int = 400):
    """The 信息确认 page with the 放弃报名 panel open: a captcha to get the SMS code, then the code."""
    return render_template(
        "registration/confirm.html",
        r=mine(),
        message="",
        errors=errors,
        current="confirm",
        abandon_open=True,
        captcha=new_captcha(),
        code_sent=code_sent,
        abandon_form=FormState(errors=errors),
    ), status


@bp.post("/registration/abandon/code")
@login_required()
def abandon_code():
    """放弃报名, step 1: the graphic captcha, then an SMS code to the phone on record."""
    answer, captcha_id = request.form.get("captcha", "")[:8], request.form.get("captcha_id", "")[:64]
    if not answer:
        return confirm_view({"captcha": "请输入验证码"})
    try:
        resp = call(
            auth_stub().SendActionCode,
            auth_pb.SendActionCodeRequest(
                session_id=request.cookies.get(CANDIDATE_COOKIE, ""),
                purpose="abandon",
                captcha_id=captcha_id,
                captcha_answer=answer,
                client=client_info(),
            ),
        )
    except BackendError as err:
        if err.status not in (400, 429):
            raise
        return confirm_view({"captcha": err.message})
    return confirm_view({}, code_sent=resp.masked_phone, status=200)


@bp.post("/registration/abandon")
@login_required()
def abandon():
    """放弃报名, step 2: the SMS code; auth signs a proof that the registration service checks."""
    code = request.form.get("code", "").strip()[:12]
    errors: dict[str, str] = {}
    if request.form.get("agree") != "1":
        errors["agree"] = "请确认已知晓放弃报名的后果"
    if not code:
        errors["code"] = "请输入短信验证码"
    if errors:
        return confirm_view(errors, code_sent=request.form.get("code_sent", "")[:20])
    try:
        verified = call(
            auth_stub().VerifyActionCode,
            auth_pb.VerifyActionCodeRequest(
                session_id=request.cookies.get(CANDIDATE_COOKIE, ""),
                purpose="abandon",
                code=code,
                client=client_info(),
            ),
        )
        call(reg().AbandonRegistration, pb.AbandonRegistrationRequest(action_proof=verified.action_proof))
    except BackendError as err:
        if err.status not in (400, 403):
            raise
        return confirm_view({err.field or "code": err.message}, code_sent=request.form.get("code_sent", "")[:20])
    return redirect(url_for("registration.index"))


# ---- 资料上传 (2.8.6) ----


def documents_view(r: pb.Registration, message: str = "", errors: dict | None = None, status: int = 200):
    return render_template(
        "registration/documents.html",
        r=r,
        message=message,
        errors=errors or {},
        current="qualification",
        max_mb=MAX_UPLOAD // (1024 * 1024),
    ), status


@bp.get("/registration/documents")
@login_required()
def documents_page():
    r = mine()
    if redirect_to := guard(r, "qualification"):
        return redirect_to
    notice = "文件已上传。" + request.args.get("note", "")[:200] if request.args.get("uploaded") else ""
    return documents_view(r, notice)


@bp.post("/registration/documents")
@login_required()
def documents_upload():
    kind = request.form.get("kind", "")[:30]
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return documents_view(mine(), errors={kind: "请选择要上传的文件"}, status=400)
    data = upload.read(MAX_UPLOAD + 1)
    # A long file name keeps its end: the base name and its extension.
    try:
        resp = call(
            reg().UploadDocument,
            pb.UploadDocumentRequest(
                kind=kind, filename=upload.filename[-200:], declared_type=upload.mimetype[:100], data=data
            ),
            timeout=60,
        )
    except BackendError as err:
        if err.status not in (400, 409):
            raise
        return documents_view(mine(), errors={kind: err.message}, status=err.status)
    note = resp.document.mismatch
    return redirect(
        url_for("registration.documents_page", uploaded=1, note=note)
        if note
        else url_for("registration.documents_page", uploaded=1)
    )


@bp.post("/registration/documents/<document_id>/delete")
@login_required()
def documents_delete(document_id: str):
    call(reg().DeleteDocument, pb.DeleteDocumentRequest(document_id=document_id[:32]))
    return redirect(url_for("registration.documents_page"))


@bp.post("/registration/documents/submit")
@login_required()
def documents_submit():
    try:
        call(reg().SubmitDocuments, pb.SubmitDocumentsRequest())
    except BackendError as err:
        if err.status != 409:
            raise
        return documents_view(mine(), message=err.message, status=409)
    return redirect(url_for("registration.documents_page"))


def serve_document(document_id: str) -> Response:
    """Stream a stored file from the service in chunks; only its owner or staff in scope get it."""
    document_id = document_id[:32]
    first, data = read_chunked(
        reg().ReadDocument,
        lambda offset, limit: pb.ReadDocumentRequest(document_id=document_id, offset=offset, limit=limit),
    )
    doc = first.document
    disposition = "inline" if request.args.get("download") != "1" else "attachment"
    return Response(
        data,
        mimetype=doc.content_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(doc.display_name)}",
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/registration/documents/<document_id>")
@login_required()
def document_file(document_id: str):
    return serve_document(document_id)
