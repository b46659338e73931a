"""身份认证 (manual 2.8.4) for the candidate: consent, the three photos, 开始认证, progress, result.

The pages present and forward; the identity service decides every rule (consent, photo checks,
the retry limit). Verification runs in the service's worker: after 开始认证 the page shows
progress, polling a small JSON endpoint with the local script, or reloading itself without script.
Photos are served only through here, in chunks, to their owner (staff read them on the admin side).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for

from gateway.errors import BackendError, call, read_chunked
from gateway.security import login_required
from gateway.views.registration import guard, mine
from zsb.identity.v1 import identity_pb2 as pb

bp = Blueprint("identity", __name__)
MENU = [(30, "身份认证", "identity.index")]

KINDS = ("portrait", "id_card", "id_card_back")
KIND_LABELS = {"portrait": "证件照", "id_card": "身份证人像面", "id_card_back": "身份证国徽面"}
KIND_HINTS = {
    "portrait": "近期免冠正面彩色证件照：仅本人，面部完整清晰、无遮挡，光线均匀",
    "id_card": "居民身份证人像面：四角完整，照片和文字清晰，无反光",
    "id_card_back": "居民身份证国徽面：四角完整，签发机关和有效期限清晰",
}
MAX_UPLOAD = 10 * 1024 * 1024  # the service applies its own, smaller limit with a clear message
REASON_MAX = 200
_PHOTO_ID = re.compile(r"^[0-9a-f]{32}$")
# Expected refusals shown on the page next to what caused them; others go to the error page.
_SHOWN = (400, 409, 429)


def identity():
    return current_app.extensions["backends"].identity


def my_identity() -> pb.IdentityView:
    return call(identity().GetMyIdentity, pb.GetMyIdentityRequest())


@bp.app_context_processor
def _identity_helpers() -> dict:
    return {"identity_kind_labels": KIND_LABELS, "identity_kind_hints": KIND_HINTS}


def page(v: pb.IdentityView | None = None, errors: dict | None = None, message: str = "", status: int = 200):
    """The page, or the way back to 我的报考 when an earlier step is not done."""
    r = mine()
    if redirect_to := guard(r, "identity"):
        return redirect_to
    v = v or my_identity()
    photos = {p.kind: p for p in v.photos}
    return render_template(
        "identity/index.html",
        r=r,
        v=v,
        photos=photos,
        kinds=KINDS,
        errors=errors or {},
        message=message,
        current="identity",
        max_mb=max(v.max_upload_bytes // (1024 * 1024), 1),
        status_url=url_for("identity.status"),
    ), status


@bp.get("/identity")
@login_required()
def index():
    notes = {"uploaded": "照片已上传。", "started": "已开始认证，请稍候。", "requested": "已提交人工审核申请。"}
    done = request.args.get("done", "")
    v = my_identity() if done == "started" else None
    if v is not None and v.status != "verifying":
        done = ""  # the check is over: the status box says how it went, not "please wait"
    return page(v=v, message=notes.get(done, ""))


@bp.post("/identity/consent")
@login_required()
def consent():
    version = request.form.get("version", "")[:20]
    if request.form.get("agree") != "1":
        return page(errors={"consent": "请勾选“我已阅读并同意”后再继续"}, status=400)
    try:
        call(identity().GiveConsent, pb.GiveConsentRequest(version=version))
    except BackendError as err:
        if err.status not in _SHOWN:
            raise
        return page(errors={"consent": err.message}, status=err.status)
    return redirect(url_for("identity.index"))


@bp.post("/identity/photos")
@login_required()
def upload():
    kind = request.form.get("kind", "")
    if kind not in KINDS:
        return page(message="请选择照片类别", status=400)
    file = request.files.get("file")
    if file is None or not file.filename:
        return page(errors={kind: "请选择要上传的照片"}, status=400)
    data = file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return page(errors={kind: f"文件过大，不能超过{MAX_UPLOAD // (1024 * 1024)}MB"}, status=400)
    # A long file name keeps its end: the base name and its extension.
    try:
        call(
            identity().UploadPhoto,
            pb.UploadPhotoRequest(
                kind=kind, filename=file.filename[-200:], declared_type=(file.mimetype or "")[:100], data=data
            ),
            timeout=90,  # the photo rules run the face detector, which may still be loading
        )
    except BackendError as err:
        if err.status not in _SHOWN:
            raise
        return page(errors={kind: err.message}, status=err.status)
    return redirect(url_for("identity.index", done="uploaded"))


@bp.post("/identity/start")
@login_required()
def start():
    try:
        call(identity().StartVerification, pb.StartVerificationRequest())
    except BackendError as err:
        if err.status not in _SHOWN:
            raise
        return page(errors={"start": err.message}, status=err.status)
    return redirect(url_for("identity.index", done="started"))


@bp.post("/identity/review")
@login_required()
def request_review():
    reason = request.form.get("reason", "")[: REASON_MAX * 2]
    try:
        call(identity().RequestManualReview, pb.RequestManualReviewRequest(reason=reason))
    except BackendError as err:
        if err.status not in _SHOWN:
            raise
        return page(errors={"reason": err.message}, status=err.status)
    return redirect(url_for("identity.index", done="requested"))


@bp.get("/api/v1/identity/status")
@login_required()
def status():
    """The page's poll while a verification runs (small: no photos, no notice text)."""
    v = my_identity()
    current = v.current if v.has_current else None
    return jsonify(
        status=v.status,
        status_label=v.status_label,
        message=v.message,
        next_step=v.next_step,
        verifying=v.status == "verifying",
        state=current.state if current else "",
        queue_position=current.queue_position if current else 0,
    )


def serve_photo(photo_id: str) -> Response:
    """Stream a stored photo from the service in chunks; the service decides who may see it."""
    if not _PHOTO_ID.match(photo_id):
        raise BackendError(404, "照片不存在", "NO_PHOTO")
    first, data = read_chunked(
        identity().ReadPhoto, lambda offset, limit: pb.ReadPhotoRequest(photo_id=photo_id, offset=offset, limit=limit)
    )
    return Response(
        data,
        mimetype=first.photo.content_type,
        headers={"Content-Disposition": "inline", "Cache-Control": "private, no-store"},
    )


@bp.get("/identity/photos/<photo_id>")
@login_required()
def photo(photo_id: str):
    return serve_photo(photo_id)
