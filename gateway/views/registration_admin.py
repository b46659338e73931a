"""Admin side of registration: 报考资格审核 (review queue), 数据上报, reference data, audit.

Menus show each entry to the roles that use it; the registration service checks role and scope
on every call anyway (point staff their point, city staff their city, the province everything).
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.reference import reference_data
from gateway.security import login_required
from gateway.views.registration import serve_document
from zsb.registration.v1 import registration_pb2 as pb

bp = Blueprint("registration_admin", __name__, url_prefix="/admin/registration")
ADMIN_MENU = [
    (20, "报考资格审核", "registration_admin.reviews", ()),
    (30, "数据上报", "registration_admin.reports", ("province", "city", "point")),
    (40, "报考参考数据", "registration_admin.reference", ("province",)),
    (45, "报名审核日志", "registration_admin.audit", ()),
]
STATUS_LABELS = {"pending_upload": "待上传", "under_review": "审核中", "approved": "审核通过", "rejected": "审核不通过"}
PAGE_SIZE = 50
REFERENCE_MAX = 2 * 1024 * 1024


def reg():
    return current_app.extensions["backends"].registration


def _arg(name: str, size: int) -> str:
    return request.args.get(name, "").strip()[:size]


@bp.get("/reviews")
@login_required(staff=True)
def reviews():
    filters = {
        "city_code": _arg("city_code", 2),
        "point_code": _arg("point_code", 10),
        "candidate_type": _arg("candidate_type", 4),
        "status": _arg("status", 20) or "under_review",
    }
    if filters["status"] == "all":
        filters["status"] = ""
    page = max(int(_arg("page", 4)) if _arg("page", 4).isdigit() else 1, 1)
    resp = call(reg().ListReviews, pb.ListReviewsRequest(**filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE))
    ref = reference_data()
    pages = max((resp.total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template(
        "registration/admin/reviews.html",
        rows=resp.rows,
        total=resp.total,
        filters={**filters, "status": filters["status"] or "all"},
        ref=ref,
        statuses=STATUS_LABELS,
        page=page,
        pages=pages,
    )


@bp.get("/reviews/<candidate_no>")
@login_required(staff=True)
def review(candidate_no: str):
    r = call(reg().GetCandidateRegistration, pb.GetCandidateRegistrationRequest(candidate_no=candidate_no[:14]))
    return render_template("registration/admin/review.html", r=r, errors={}, reason="", bonus_points="")


@bp.post("/reviews/<candidate_no>")
@login_required(staff=True)
def decide(candidate_no: str):
    number = candidate_no[:14]
    approve = request.form.get("decision") == "approve"
    reason = request.form.get("reason", "")[:400]
    bonus_points = request.form.get("bonus_points", "")[:20]  # as typed: the service checks it
    decision = pb.DecideReviewRequest(candidate_no=number, approve=approve, reason=reason, bonus_points=bonus_points)
    try:
        call(reg().DecideReview, decision)
    except BackendError as err:
        if err.status not in (400, 409):
            raise
        r = call(reg().GetCandidateRegistration, pb.GetCandidateRegistrationRequest(candidate_no=number))
        return render_template(
            "registration/admin/review.html",
            r=r,
            errors={err.field or "decision": err.message},
            reason=reason,
            bonus_points=bonus_points,
        ), err.status
    return redirect(url_for("registration_admin.review", candidate_no=number, decided=1))


@bp.get("/documents/<document_id>")
@login_required(staff=True)
def document_file(document_id: str):
    return serve_document(document_id)


# ---- 上报 ----


@bp.get("/reports")
@login_required(staff=True, roles=("province", "city", "point"))
def reports():
    resp = call(reg().ListReports, pb.ListReportsRequest())
    return render_template("registration/admin/reports.html", reports=resp.reports, message="")


@bp.post("/reports")
@login_required(staff=True, roles=("province", "city", "point"))
def report_action():
    scope, code = request.form.get("scope", "")[:10], request.form.get("code", "")[:10]
    action = request.form.get("action", "")
    calls = {
        "report": lambda: call(reg().Report, pb.ReportRequest(scope=scope, code=code)),
        "withdraw": lambda: call(reg().WithdrawReport, pb.ReportRequest(scope=scope, code=code)),
        "allow": lambda: call(
            reg().SetWithdrawalAllowed, pb.SetWithdrawalAllowedRequest(scope=scope, code=code, allowed=True)
        ),
        "disallow": lambda: call(
            reg().SetWithdrawalAllowed, pb.SetWithdrawalAllowedRequest(scope=scope, code=code, allowed=False)
        ),
    }
    if action not in calls:
        raise BackendError(400, "操作不正确", "BAD_ACTION")
    try:
        calls[action]()
    except BackendError as err:
        if err.status not in (403, 409):
            raise
        resp = call(reg().ListReports, pb.ListReportsRequest())
        return render_template("registration/admin/reports.html", reports=resp.reports, message=err.message), err.status
    return redirect(url_for("registration_admin.reports"))


# ---- reference data (province) ----


@bp.get("/reference")
@login_required(staff=True, roles=("province",))
def reference():
    current = call(reg().GetReferenceData, pb.GetReferenceDataRequest())
    text = json.dumps(json.loads(current.data_json), ensure_ascii=False, indent=2)
    return render_template("registration/admin/reference.html", current=current, text=text, error="", saved=False)


@bp.post("/reference")
@login_required(staff=True, roles=("province",))
def reference_replace():
    text = request.form.get("data_json", "")
    current = call(reg().GetReferenceData, pb.GetReferenceDataRequest())
    if len(text.encode()) > REFERENCE_MAX:
        error = "参考数据过大"
    else:
        try:
            new = call(reg().ReplaceReferenceData, pb.ReplaceReferenceDataRequest(data_json=text))
        except BackendError as err:
            if err.status != 400:
                raise
            error = err.message
        else:
            pretty = json.dumps(json.loads(new.data_json), ensure_ascii=False, indent=2)
            return render_template("registration/admin/reference.html", current=new, text=pretty, error="", saved=True)
    return render_template(
        "registration/admin/reference.html", current=current, text=text, error=error, saved=False
    ), 400


# ---- audit ----


@bp.get("/audit")
@login_required(staff=True)
def audit():
    subject, action = _arg("subject", 20), _arg("action", 40)
    resp = call(reg().ListAudit, pb.ListAuditRequest(subject=subject, action=action, limit=200))
    return render_template(
        "registration/admin/audit.html", entries=resp.entries, subject=subject, action=action, me=g.user.subject
    )
