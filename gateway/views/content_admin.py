"""Admin side of the home and guide pages (2.6), for the province: notices (公告), 报名操作流程,
考生使用说明 and 网上报名咨询电话. The registration service checks the role and audits each edit."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.security import login_required
from gateway.views.calendar_admin import local, parse_local
from zsb.registration.v1 import registration_pb2 as pb

bp = Blueprint("content_admin", __name__, url_prefix="/admin/content")
ADMIN_MENU = [(14, "公告与首页内容", "content_admin.page", ("province",))]
PAGES = ("process", "manual")
HOTLINE_HEADER = "地市代码,报名点代码,电话,接听时间"


def reg():
    return current_app.extensions["backends"].registration


def hotlines_text(lines) -> str:
    return "\n".join(",".join((h.city_code, h.point_code, h.phone, h.hours)) for h in lines)


def parse_hotlines(text: str) -> list[pb.Hotline]:
    """One line a phone: 地市代码,报名点代码(city line: empty),电话,接听时间 (the last optional)."""
    out = []
    for n, raw in enumerate(text.replace("，", ",").splitlines(), start=1):
        if not raw.strip() or raw.strip() == HOTLINE_HEADER:
            continue
        parts = [p.strip() for p in raw.split(",")]
        if len(parts) < 3:
            raise BackendError(400, f"第{n}行：应为“{HOTLINE_HEADER}”", "BAD_LINE")
        out.append(pb.Hotline(city_code=parts[0], point_code=parts[1], phone=parts[2], hours=",".join(parts[3:])))
    return out


def _page(message: str = "", error: str = "", status: int = 200, hotlines: str | None = None):
    notices = call(reg().ListNotices, pb.ListNoticesRequest(all=True, limit=100)).notices
    pages = {key: call(reg().GetSitePage, pb.GetSitePageRequest(key=key)) for key in PAGES}
    if hotlines is None:
        hotlines = hotlines_text(call(reg().ListHotlines, pb.ListHotlinesRequest()).hotlines)
    edit_id = request.args.get("edit", "")
    editing = next((n for n in notices if str(n.id) == edit_id), None)
    return (
        render_template(
            "content/admin.html",
            notices=notices,
            pages=pages,
            hotlines=hotlines,
            header=HOTLINE_HEADER,
            editing=editing,
            local=local,
            message=message,
            error=error,
        ),
        status,
    )


def _saved(fn):
    """Run an edit; a refusal comes back on the page with the service's message."""
    try:
        fn()
    except BackendError as err:
        if err.status >= 500 or err.status in (401, 403):
            raise
        return _page(error=err.message, status=err.status, hotlines=request.form.get("hotlines"))
    return redirect(url_for("content_admin.page", saved=1))


@bp.get("")
@login_required(staff=True, roles=("province",))
def page():
    return _page(message="已保存" if request.args.get("saved") == "1" else "")


@bp.post("/notices")
@login_required(staff=True, roles=("province",))
def save_notice():
    def save() -> None:
        notice_id = request.form.get("id", "")
        notice = pb.SiteNotice(
            id=int(notice_id) if notice_id.isdigit() else 0,
            title=request.form.get("title", "")[:200],
            body=request.form.get("body", "")[:40_000],
            published_at=parse_local(request.form.get("published_at", ""), "发布时间"),
            pinned=request.form.get("pinned") == "1",
        )
        call(reg().SaveNotice, pb.SaveNoticeRequest(notice=notice))

    return _saved(save)


@bp.post("/notices/<int:notice_id>/delete")
@login_required(staff=True, roles=("province",))
def delete_notice(notice_id: int):
    return _saved(lambda: call(reg().DeleteNotice, pb.DeleteNoticeRequest(id=notice_id)))


@bp.post("/pages/<key>")
@login_required(staff=True, roles=("province",))
def save_page(key: str):
    body = request.form.get("body", "")[:100_000]
    return _saved(lambda: call(reg().SaveSitePage, pb.SitePage(key=key[:20], body=body)))


@bp.post("/hotlines")
@login_required(staff=True, roles=("province",))
def save_hotlines():
    def save() -> None:
        lines = parse_hotlines(request.form.get("hotlines", "")[:200_000])
        call(reg().ReplaceHotlines, pb.ReplaceHotlinesRequest(hotlines=lines))

    return _saved(save)
