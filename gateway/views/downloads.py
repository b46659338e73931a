"""表格下载 (manual 2.8.7) for the candidate: the four documents, the pledge before the ticket.

The registration service decides everything (the review passed, the arrangement published, the
printing window, the 10-second reading of the pledge) and renders the PDFs; the pages present
its answers and pass the files on. Named `forms` because the flow chart of 我的报考 links its
step 表格下载 to `forms.index`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, redirect, render_template, url_for

from gateway.errors import BackendError, call
from gateway.security import login_required
from gateway.views.registration import guard, mine
from zsb.common.clock import BEIJING
from zsb.registration.v1 import registration_pb2 as pb

bp = Blueprint("forms", __name__)

KINDS = ("registration", "medical", "bonus", "ticket")
DESCRIPTIONS = {
    "registration": "报名信息及审核、缴费状态，签字后按报名点要求提交。",
    "medical": "持表到指定医院参加体检。",
    "bonus": "申请奖励加分的考生填写获奖情况，经学校审核盖章后提交。",
    "ticket": "考试时须携带准考证和有效居民身份证。",
}


def reg():
    return current_app.extensions["backends"].registration


@bp.app_template_filter("doc_time")
def doc_time(ts: int) -> str:
    """Unix seconds as Beijing time to the minute."""
    return datetime.fromtimestamp(ts, UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if ts else ""


def pdf_response(f: pb.FormFile) -> Response:
    return Response(
        f.data,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f.filename)}",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def render_index(r: pb.Registration, overview: pb.DocumentsOverview, message: str = "", status: int = 200):
    return render_template(
        "downloads/index.html",
        r=r,
        o=overview,
        message=message,
        descriptions=DESCRIPTIONS,
        current="forms",
    ), status


@bp.get("/registration/forms")
@login_required()
def index():
    r = mine()
    if redirect_to := guard(r, "forms"):
        return redirect_to
    return render_index(r, call(reg().GetMyDocuments, pb.GetMyDocumentsRequest()))


@bp.get("/registration/forms/<kind>.pdf")
@login_required()
def download(kind: str):
    if kind not in KINDS:
        abort(404)
    try:
        f = call(reg().DownloadForm, pb.DownloadFormRequest(kind=kind), timeout=60)
    except BackendError as err:
        if err.status != 409:
            raise
        r = mine()
        return render_index(r, call(reg().GetMyDocuments, pb.GetMyDocumentsRequest()), err.message, 409)
    return pdf_response(f)


# ---- 考生诚信考试承诺书 ----


@bp.get("/registration/forms/pledge")
@login_required()
def pledge_page():
    r = mine()
    if redirect_to := guard(r, "forms"):
        return redirect_to
    view = call(reg().ShowTicketPledge, pb.ShowTicketPledgeRequest())  # starts the server's clock
    return render_template("downloads/pledge.html", r=r, view=view, message="", current="forms")


@bp.post("/registration/forms/pledge")
@login_required()
def pledge_agree():
    try:
        call(reg().AcknowledgeTicketPledge, pb.AcknowledgeTicketPledgeRequest())
    except BackendError as err:
        if err.reason not in ("NOTICE_TOO_SOON", "NOTICE_NOT_SHOWN"):
            raise
        r = mine()
        view = call(reg().ShowTicketPledge, pb.ShowTicketPledgeRequest())
        return render_template(
            "downloads/pledge.html", r=r, view=view, message=err.message, current="forms"
        ), err.status
    return redirect(url_for("forms.index", agreed=1))
