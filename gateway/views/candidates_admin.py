"""Admin side: candidates (考生查询, masked numbers, audited 查看完整信息), Excel exports of the
candidate list and the review queue, statistics with server-drawn charts (registrations, payments,
score bands, admissions) and their export, and the dashboard counts.

The registration, payment and results services limit every list and count to the staff member's
scope; these pages only pass the filters on.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from flask import Blueprint, Response, current_app, render_template, request, send_file
from markupsafe import Markup
from openpyxl import Workbook

from gateway.charts import bar_chart
from gateway.errors import BackendError, call
from gateway.security import login_required
from zsb.common.clock import BEIJING
from zsb.common.discovery import ServiceUnavailable
from zsb.payment.v1 import payment_pb2 as payment_pb
from zsb.registration.v1 import registration_pb2 as pb
from zsb.results.v1 import results_pb2 as results_pb

bp = Blueprint("candidates_admin", __name__, url_prefix="/admin")
ADMIN_MENU = [
    (15, "考生查询", "candidates_admin.search", ()),
    (16, "报名统计", "candidates_admin.statistics", ()),
]
PAGE_SIZE = 50
EXPORT_MAX = 20_000  # rows in one Excel file
BATCH = 200  # the service's page limit
DASHBOARD_TIMEOUT = 3.0
STATUSES = {
    "not_started": "未开始",
    "in_progress": "填报中",
    "confirmed": "已确认",
    "completed": "资格审核通过",
    "abandoned": "已放弃报名",
}
FACTS = {"pending": "未完成", "passed": "已完成", "failed": "未通过"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHART_ROWS = 20  # institutions drawn; the export holds them all
MAJOR_ROWS = 50  # majors listed on the page


def reg():
    return current_app.extensions["backends"].registration


def results():
    return current_app.extensions["backends"].results


def _arg(name: str, size: int) -> str:
    return request.args.get(name, "").strip()[:size]


def _filters() -> dict[str, str]:
    status = _arg("status", 20)
    return {
        "candidate_no": _arg("candidate_no", 14),
        "name": _arg("name", 30),
        "point_code": _arg("point_code", 10),
        "status": status if status in STATUSES else "",
    }


@bp.get("/candidates")
@login_required(staff=True)
def search():
    filters = _filters()
    page = max(int(_arg("page", 4)) if _arg("page", 4).isdigit() else 1, 1)
    req = pb.SearchCandidatesRequest(**filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    resp = call(reg().SearchCandidates, req)
    return render_template(
        "candidates/search.html",
        lines=resp.lines,
        total=resp.total,
        filters=filters,
        statuses=STATUSES,
        facts=FACTS,
        page=page,
        pages=max((resp.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
    )


@bp.post("/candidates/<candidate_no>/reveal")
@login_required(staff=True)
def reveal(candidate_no: str):
    """查看完整信息: the service checks the scope and records who looked, when and why."""
    purpose = request.form.get("purpose", "").strip()[:100]
    try:
        line = call(reg().RevealCandidate, pb.RevealCandidateRequest(candidate_no=candidate_no[:14], purpose=purpose))
    except BackendError as err:
        if err.status != 400:
            raise
        return render_template("candidates/reveal.html", line=None, error=err.message, statuses=STATUSES), 400
    resp = Response(render_template("candidates/reveal.html", line=line, error="", statuses=STATUSES))
    resp.headers["Cache-Control"] = "no-store"  # full numbers must not stay in a cache
    return resp


# ---- exports ----


def _pages(fetch, rows_of) -> Iterator:
    """Every row of a paged list, up to EXPORT_MAX."""
    offset = 0
    while offset < EXPORT_MAX:
        resp = fetch(offset)
        rows = list(rows_of(resp))
        yield from rows
        offset += len(rows)
        if len(rows) < BATCH or offset >= resp.total:
            return


def _xlsx(title: str, header: list[str], rows: Iterator[list]) -> Response:
    return _workbook(title, [(title, header, rows)])


def _workbook(title: str, sheets: list[tuple[str, list[str], Iterable[list]]]) -> Response:
    """An .xlsx download of (sheet name, header, rows) sheets, named after `title` and the time."""
    book = Workbook(write_only=True)
    for name, header, rows in sheets:
        sheet = book.create_sheet(name)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    stamp = datetime.now(BEIJING).strftime("%Y%m%d%H%M")
    resp = send_file(out, mimetype=XLSX, as_attachment=True, download_name=f"{title}-{stamp}.xlsx")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/candidates/export.xlsx")
@login_required(staff=True)
def export_candidates():
    """The search's candidates (ID and phone numbers masked, as on the page)."""
    filters = _filters()
    lines = _pages(
        lambda offset: call(reg().SearchCandidates, pb.SearchCandidatesRequest(**filters, limit=BATCH, offset=offset)),
        lambda resp: resp.lines,
    )
    header = ["考生号", "姓名", "地市", "报名点", "报名状态", "身份证号", "手机号", "网上支付", "资格审核"]
    rows = (
        [
            c.candidate_no,
            c.name,
            c.city_name,
            c.point_name,
            STATUSES.get(c.status, c.status),
            c.id_number,
            c.phone,
            FACTS.get(c.payment_status, c.payment_status),
            c.review_status,
        ]
        for c in lines
    )
    return _xlsx("考生名单", header, rows)


@bp.get("/reviews/export.xlsx")
@login_required(staff=True)
def export_reviews():
    """The 报考资格审核 queue with the same filters as its page (status all when not given)."""
    filters = {
        "city_code": _arg("city_code", 2),
        "point_code": _arg("point_code", 10),
        "candidate_type": _arg("candidate_type", 4),
        "status": "" if _arg("status", 20) in ("", "all") else _arg("status", 20),
    }
    rows_in = _pages(
        lambda offset: call(reg().ListReviews, pb.ListReviewsRequest(**filters, limit=BATCH, offset=offset)),
        lambda resp: resp.rows,
    )
    header = ["考生号", "姓名", "地市代码", "报名点代码", "考生类型", "审核状态", "需审核材料", "提交时间"]
    header.append("已上传文件数")

    def when(ts: int) -> str:
        return datetime.fromtimestamp(ts, BEIJING).strftime("%Y-%m-%d %H:%M") if ts else ""

    rows = (
        [
            r.candidate_no,
            r.name,
            r.city_code,
            r.point_code,
            r.candidate_type_label,
            r.status_label,
            "、".join(r.required_labels),
            when(r.submitted_at),
            r.documents,
        ]
        for r in rows_in
    )
    return _xlsx("资格审核", header, rows)


# ---- statistics and the dashboard ----


def _charts(stats: pb.RegistrationStats) -> list[tuple[str, Markup]]:
    sections = [
        ("按地市", stats.by_city),
        ("按报名点", stats.by_point),
        ("按考生类型", stats.by_type),
        ("按报名步骤", stats.by_status),
        ("资格审核", stats.by_review),
    ]
    # bar_chart escapes every label itself.
    return [
        (title, Markup(bar_chart(f"报名人数{title}", [(r.label, r.count) for r in rows], "人")))  # noqa: S704
        for title, rows in sections
    ]


def _payment_charts(city_names: dict[str, str]) -> list[tuple[str, Markup]] | None:
    """Paid fees by city from the payment service; None when it cannot say (down, or a reviewer)."""
    try:
        resp = call(current_app.extensions["backends"].payment.GetPaymentStats, payment_pb.GetPaymentStatsRequest())
    except (BackendError, ServiceUnavailable):
        return None
    paid = [(city_names.get(c.city_code, c.city_code), c.paid) for c in resp.by_city]
    amounts = [(city_names.get(c.city_code, c.city_code), c.amount_fen // 100) for c in resp.by_city]
    return [
        ("已缴费人数（按地市）", Markup(bar_chart("已缴费人数", paid, "人"))),  # noqa: S704 - escaped by bar_chart
        ("已缴报名费（按地市）", Markup(bar_chart("已缴报名费", amounts, "元"))),  # noqa: S704
    ]


def results_stats(timeout: float = 15.0) -> results_pb.ResultsStats | None:
    """Score bands and admissions of the caller's scope; None when the results service cannot say."""
    try:
        return call(results().GetResultsStats, results_pb.GetResultsStatsRequest(), timeout=timeout)
    except (BackendError, ServiceUnavailable):
        return None


def _results_charts(s: results_pb.ResultsStats) -> dict[str, list[tuple[str, Markup]]]:
    """分数段 per category, and the standing admissions per batch and per institution."""
    # bar_chart escapes every label itself.
    scores = [
        (
            f"报考专业类别 {c.major_category}（{c.candidates}人，最高{c.highest}分）",
            Markup(  # noqa: S704
                bar_chart(f"分数段 {c.major_category}", [(f"{b.low}–{b.high}分", b.count) for b in c.bands], "人")
            ),
        )
        for c in s.bands
    ]
    admissions = [
        ("投档人数（按批次，含院校审核中）", [(r.label, r.dispatched) for r in s.by_batch]),
        ("已录取人数（按批次）", [(r.label, r.admitted) for r in s.by_batch]),
        (f"投档人数（按院校，前{CHART_ROWS}所）", [(r.label, r.dispatched) for r in s.by_institution[:CHART_ROWS]]),
    ]
    if any(r.returned for r in s.by_batch):
        admissions.append(("退档人数（按批次）", [(r.label, r.returned) for r in s.by_batch]))
    return {
        "scores": scores,
        "admissions": [(title, Markup(bar_chart(title, rows, "人"))) for title, rows in admissions],  # noqa: S704
    }


@bp.get("/statistics")
@login_required(staff=True)
def statistics():
    stats = call(reg().GetRegistrationStats, pb.GetRegistrationStatsRequest())
    names = {r.key: r.label for r in stats.by_city}
    outcomes = results_stats()
    return render_template(
        "candidates/statistics.html",
        stats=stats,
        charts=_charts(stats),
        payments=_payment_charts(names),
        results=outcomes,
        results_charts=_results_charts(outcomes) if outcomes is not None else None,
        major_rows=MAJOR_ROWS,
    )


@bp.get("/statistics/results.xlsx")
@login_required(staff=True)
def export_results():
    """成绩与录取统计 of the caller's scope: the figures of the statistics page, every row."""
    s = call(results().GetResultsStats, results_pb.GetResultsStatsRequest())
    counts = ["投档（含院校审核中）", "已录取", "退档"]

    def figures(r: results_pb.AdmissionCount) -> list:
        return [r.dispatched, r.admitted, r.returned]

    return _workbook(
        "成绩与录取统计",
        [
            (
                "分数段",
                ["报考专业类别", "分数段", "最低分", "最高分", "人数"],
                ([c.major_category, f"{b.low}–{b.high}", b.low, b.high, b.count] for c in s.bands for b in c.bands),
            ),
            ("按批次", ["批次", *counts], ([r.label, *figures(r)] for r in s.by_batch)),
            ("按院校", ["院校代号", "院校名称", *counts], ([r.key, r.label, *figures(r)] for r in s.by_institution)),
            (
                "按专业",
                ["院校代号", "专业代号", "院校专业", *counts],
                ([*r.key.split("/", 1), r.label, *figures(r)] for r in s.by_major),
            ),
            (
                "征集志愿",
                ["批次", "征集计划缺额", "填报人数", "征集投档人数"],
                ([x.batch_name, x.vacancies, x.applicants, x.dispatched] for x in s.solicitations),
            ),
        ],
    )


@bp.app_context_processor
def dashboard_helper() -> dict:
    def registration_dashboard() -> pb.RegistrationStats | None:
        """The counts of the staff member's scope for the console's home; None when unavailable."""
        try:
            return call(reg().GetRegistrationStats, pb.GetRegistrationStatsRequest(), timeout=DASHBOARD_TIMEOUT)
        except (BackendError, ServiceUnavailable):  # the console's home works without registration
            return None

    def results_dashboard() -> results_pb.ResultsStats | None:
        """Scores and admissions of the scope for the console's home; None when unavailable."""
        return results_stats(timeout=DASHBOARD_TIMEOUT)

    return {"registration_dashboard": registration_dashboard, "results_dashboard": results_dashboard}
