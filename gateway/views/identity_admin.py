"""Admin side of 身份认证: the manual-review queue, one case with its three photos and scores, decisions.

The identity service checks role and scope on every call (point staff their point, city staff
their city, the province everything), audits each decision and each view of a photo, and
publishes the decisions as events.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.reference import reference_data
from gateway.security import login_required
from gateway.views.identity import serve_photo
from zsb.identity.v1 import identity_pb2 as pb

bp = Blueprint("identity_admin", __name__, url_prefix="/admin/identity")
ADMIN_MENU = [
    (25, "身份认证审核", "identity_admin.reviews", ()),
    (46, "身份认证日志", "identity_admin.audit", ()),
]
STATUS_LABELS = {"manual_review": "人工审核中", "approved": "人工审核通过", "rejected": "人工审核未通过"}
REASON_LABELS = {
    "faces_differ": "人脸比对不一致",
    "retries_exhausted": "自动认证次数已用完",
    "requested": "考生申请人工审核",
    "system_error": "自动认证无法完成",
}
OUTCOME_LABELS = {"passed": "通过", "failed": "不一致", "fixable": "照片不合格"}
PAGE_SIZE = 50


def identity():
    return current_app.extensions["backends"].identity


def reference() -> dict:
    """City and point names from registration's reference data (for filters and display)."""
    data = reference_data()
    return {
        "cities": data.get("cities", []),
        "points": data.get("points", []),
        "city_names": {c["code"]: c["name"] for c in data.get("cities", [])},
        "point_names": {p["code"]: p["name"] for p in data.get("points", [])},
    }


def _arg(name: str, size: int) -> str:
    return request.args.get(name, "").strip()[:size]


@bp.get("/reviews")
@login_required(staff=True)
def reviews():
    filters = {
        "status": _arg("status", 20) or "manual_review",
        "city_code": _arg("city_code", 2),
        "point_code": _arg("point_code", 10),
        "review_reason": _arg("review_reason", 20),
    }
    page = int(_arg("page", 4)) if _arg("page", 4).isdigit() and int(_arg("page", 4)) > 0 else 1
    resp = call(
        identity().ListReviews, pb.ListReviewsRequest(**filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    )
    return render_template(
        "identity/admin/reviews.html",
        rows=resp.rows,
        total=resp.total,
        filters=filters,
        ref=reference(),
        statuses=STATUS_LABELS,
        reasons=REASON_LABELS,
        page=page,
        pages=max((resp.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
    )


def render_case(case: pb.CaseView, errors: dict | None = None, reason: str = "", status: int = 200):
    return render_template(
        "identity/admin/review.html",
        case=case,
        photos={p.kind: p for p in case.photos},
        ref=reference(),
        outcomes=OUTCOME_LABELS,
        errors=errors or {},
        reason=reason,
    ), status


@bp.get("/reviews/<candidate_no>")
@login_required(staff=True)
def review(candidate_no: str):
    return render_case(call(identity().GetCase, pb.GetCaseRequest(candidate_no=candidate_no[:14])))


@bp.post("/reviews/<candidate_no>")
@login_required(staff=True)
def decide(candidate_no: str):
    number = candidate_no[:14]
    decision = request.form.get("decision", "")
    reason = request.form.get("reason", "")[:400]
    if decision not in ("approve", "reject"):
        raise BackendError(400, "请选择审核结果", "BAD_DECISION")
    try:
        call(
            identity().DecideReview,
            pb.DecideReviewRequest(candidate_no=number, approve=decision == "approve", reason=reason),
        )
    except BackendError as err:
        if err.status not in (400, 409):
            raise
        case = call(identity().GetCase, pb.GetCaseRequest(candidate_no=number))
        return render_case(case, {err.field or "decision": err.message}, reason, err.status)
    return redirect(url_for("identity_admin.review", candidate_no=number, decided=1))


@bp.get("/photos/<photo_id>")
@login_required(staff=True)
def photo(photo_id: str):
    return serve_photo(photo_id)


@bp.get("/audit")
@login_required(staff=True)
def audit():
    subject, action = _arg("subject", 20), _arg("action", 40)
    resp = call(identity().ListAudit, pb.ListAuditRequest(subject=subject, action=action, limit=200))
    return render_template(
        "identity/admin/audit.html", entries=resp.entries, subject=subject, action=action, me=g.user.subject
    )
