"""Admin side of scores and admission (province): score imports and publication, admission
settings, 模拟投档 and publication, review windows, 退档 and 征集志愿, the audit; and a lookup
of a candidate's results for any staff member within their scope.

Every rule (roles included) is the results service's; this module carries forms to it.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.security import login_required
from zsb.common.clock import BEIJING
from zsb.results.v1 import results_pb2 as pb

bp = Blueprint("results_admin", __name__, url_prefix="/admin/results")
ADMIN_MENU = [
    (70, "成绩导入与发布", "results_admin.scores_page", ("province",)),
    (71, "投档设置", "results_admin.settings_page", ("province",)),
    (72, "模拟投档与发布", "results_admin.runs_page", ("province",)),
    (73, "退档与征集志愿", "results_admin.review_page", ("province",)),
    (74, "成绩与录取查询", "results_admin.lookup_page", ()),
    (75, "成绩与录取日志", "results_admin.audit_page", ("province",)),
]
LONG_CALL = 600.0  # imports, publications and runs over a whole province take a while
_LOCAL_TIME = "%Y-%m-%dT%H:%M"
_MODES = {"replace": pb.REPLACE, "amend": pb.AMEND}


def results():
    return current_app.extensions["backends"].results


def _refused(err: BackendError) -> bool:
    """Errors a form shows in place; the rest go to the error page."""
    return err.status < 500 and err.status not in (401, 403)


def _local(ts: int) -> str:
    return datetime.fromtimestamp(ts, BEIJING).strftime(_LOCAL_TIME) if ts else ""


def _parse_local(raw: str, label: str) -> int:
    value = (raw or "").strip()
    if not value:
        return 0
    try:
        return int(datetime.strptime(value[:16], _LOCAL_TIME).replace(tzinfo=BEIJING).timestamp())
    except ValueError as exc:
        raise BackendError(400, f"{label}格式不正确，应为“年-月-日 时:分”", "BAD_TIME") from exc


def _int(raw: str, label: str, default: int | None = None) -> int | None:
    value = (raw or "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        raise BackendError(400, f"{label}须为整数", "BAD_NUMBER")
    return int(value)


# ---- scores ----


def _scores_page(message: str = "", error: str = "", problems=(), error_count: int = 0, status: int = 200):
    listed = call(results().ListScoreImports, pb.ListScoreImportsRequest())
    return (
        render_template(
            "results/admin_scores.html",
            listed=listed,
            message=message,
            error=error,
            problems=list(problems),
            error_count=error_count,
        ),
        status,
    )


@bp.get("/scores")
@login_required(staff=True, roles=("province",))
def scores_page():
    done = request.args.get("done", "")
    return _scores_page(message={"imported": "导入成功", "published": "成绩已发布"}.get(done, ""))


@bp.post("/scores")
@login_required(staff=True, roles=("province",))
def scores_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _scores_page(error="请选择要导入的文件", status=400)
    req = pb.ImportScoresRequest(
        filename=upload.filename[:200],
        content=upload.read(),
        mode=_MODES.get(request.form.get("mode", ""), pb.IMPORT_MODE_UNSPECIFIED),
        note=request.form.get("note", "").strip()[:200],
    )
    try:
        resp = call(results().ImportScores, req, timeout=LONG_CALL)
    except BackendError as err:
        if not _refused(err):
            raise
        return _scores_page(error=err.message, status=err.status)
    if resp.errors:
        shown = f"，以下列出前{len(resp.errors)}处" if resp.error_count > len(resp.errors) else ""
        return _scores_page(
            error=f"导入未完成：共{resp.error_count}处错误{shown}，请修改后重新导入（本次未导入任何数据）",
            problems=resp.errors,
            error_count=resp.error_count,
            status=400,
        )
    return redirect(url_for("results_admin.scores_page", done="imported"))


@bp.post("/scores/<int:version>/publish")
@login_required(staff=True, roles=("province",))
def scores_publish(version: int):
    try:
        call(results().PublishScores, pb.PublishScoresRequest(version=version), timeout=LONG_CALL)
    except BackendError as err:
        if not _refused(err):
            raise
        return _scores_page(error=err.message, status=err.status)
    return redirect(url_for("results_admin.scores_page", done="published"))


# ---- settings ----


def _settings_page(settings: pb.AdmissionSettings | None = None, message: str = "", error: str = "", status=200):
    current = call(results().GetAdmissionSettings, pb.GetAdmissionSettingsRequest())
    shown = settings if settings is not None else current
    return (
        render_template(
            "results/admin_settings.html",
            s=shown,
            current=current,
            message=message,
            error=error,
            positions=range(1, len(shown.batches) + 1),
        ),
        status,
    )


@bp.get("/settings")
@login_required(staff=True, roles=("province",))
def settings_page():
    return _settings_page(message="已保存" if request.args.get("saved") == "1" else "")


def _lines(text: str, batch_name: str) -> list[pb.ControlLine]:
    """'01=180' per line (or separated by commas)."""
    lines = []
    for item in text.replace("，", ",").replace(",", "\n").splitlines():
        item = item.strip()
        if not item:
            continue
        category, sep, value = item.replace("＝", "=").partition("=")
        number = _int(value, f"{batch_name} {category.strip()} 类控制线")
        if not sep or not category.strip() or number is None:
            raise BackendError(400, f"{batch_name}的控制线须按“类别代码=分数”填写，每行一个：{item}", "BAD_LINES")
        lines.append(pb.ControlLine(major_category=category.strip()[:4], line=number))
    return lines


def _settings_from_form(current: pb.AdmissionSettings) -> pb.AdmissionSettings:
    batches = []
    for b in current.batches:
        prefix = f"b_{b.code}_"
        default = _int(request.form.get(prefix + "default_line", ""), f"{b.name} 默认控制线")
        batches.append(
            (
                _int(request.form.get(prefix + "position", ""), "顺序", 99),
                pb.BatchSettings(
                    code=b.code,
                    name=b.name,
                    jdlk_only=b.jdlk_only,
                    ratio_percent=_int(request.form.get(prefix + "ratio", ""), f"{b.name} 调档比例", 100) or 0,
                    solicitation=request.form.get(prefix + "solicitation") == "1",
                    has_default_line=default is not None,
                    default_line=default or 0,
                    control_lines=_lines(request.form.get(prefix + "lines", ""), b.name),
                ),
            )
        )
    batches.sort(key=lambda pair: pair[0])
    tie = request.form.get("tie_break", "").replace("，", ",").replace("、", ",")
    return pb.AdmissionSettings(
        batches=[b for _, b in batches],
        tie_break=[t.strip()[:20] for t in tie.split(",") if t.strip()],
        random_seed=request.form.get("random_seed", "").strip()[:100],
    )


@bp.post("/settings")
@login_required(staff=True, roles=("province",))
def settings_save():
    current = call(results().GetAdmissionSettings, pb.GetAdmissionSettingsRequest())
    wanted = None
    try:
        wanted = _settings_from_form(current)
        call(results().SaveAdmissionSettings, wanted)
    except BackendError as err:
        if not _refused(err):
            raise
        return _settings_page(settings=wanted, error=err.message, status=err.status)
    return redirect(url_for("results_admin.settings_page", saved=1))


# ---- runs ----


def _runs_page(message: str = "", error: str = "", status: int = 200):
    phases = call(results().ListPhases, pb.ListPhasesRequest()).phases
    runs = call(results().ListRuns, pb.ListRunsRequest()).runs
    return (
        render_template(
            "results/admin_runs.html", phases=phases, runs=runs, message=message, error=error, local=_local
        ),
        status,
    )


@bp.get("/runs")
@login_required(staff=True, roles=("province",))
def runs_page():
    done = request.args.get("done", "")
    messages = {
        "started": "模拟投档已完成",
        "published": "投档结果已发布",
        "discarded": "模拟投档已废弃",
        "saved": "审核时间已保存",
    }
    return _runs_page(message=messages.get(done, ""))


def _run_action(fn, req, done: str, run_id: int = 0):
    try:
        resp = call(fn, req, timeout=LONG_CALL)
    except BackendError as err:
        if not _refused(err):
            raise
        return _runs_page(error=err.message, status=err.status)
    if done == "started":
        return redirect(url_for("results_admin.run_page", run_id=resp.id))
    return redirect(url_for("results_admin.runs_page", done=done))


@bp.post("/runs")
@login_required(staff=True, roles=("province",))
def run_start():
    return _run_action(results().StartRun, pb.StartRunRequest(), "started")


@bp.post("/runs/<int:run_id>/publish")
@login_required(staff=True, roles=("province",))
def run_publish(run_id: int):
    return _run_action(results().PublishRun, pb.PublishRunRequest(run_id=run_id), "published")


@bp.post("/runs/<int:run_id>/discard")
@login_required(staff=True, roles=("province",))
def run_discard(run_id: int):
    return _run_action(results().DiscardRun, pb.DiscardRunRequest(run_id=run_id), "discarded")


@bp.get("/runs/<int:run_id>")
@login_required(staff=True, roles=("province",))
def run_page(run_id: int):
    query = request.args.get("q", "").strip()[:30]
    category = request.args.get("category", "").strip()[:4]
    number = request.args.get("candidate_no", "").strip()[:14]
    run = call(results().GetRun, pb.GetRunRequest(run_id=run_id, query=query, major_category=category))
    outcome, lookup_error = None, ""
    if number:
        try:
            outcome = call(results().ExplainCandidate, pb.ExplainCandidateRequest(run_id=run_id, candidate_no=number))
        except BackendError as err:
            if not _refused(err):
                raise
            lookup_error = err.message
    return render_template(
        "results/admin_run.html",
        r=run,
        query=query,
        category=category,
        number=number,
        outcome=outcome,
        lookup_error=lookup_error,
    )


@bp.post("/phases/<int:index>/review")
@login_required(staff=True, roles=("province",))
def review_window(index: int):
    try:
        opens = _parse_local(request.form.get("opens_at", ""), "开始时间")
        closes = _parse_local(request.form.get("closes_at", ""), "结束时间")
        call(results().SetReviewWindow, pb.SetReviewWindowRequest(phase_index=index, opens_at=opens, closes_at=closes))
    except BackendError as err:
        if not _refused(err):
            raise
        return _runs_page(error=err.message, status=err.status)
    return redirect(url_for("results_admin.runs_page", done="saved"))


# ---- 退档 and 征集志愿 ----


def _review_page(message: str = "", error: str = "", status: int = 200):
    phases = call(results().ListPhases, pb.ListPhasesRequest()).phases
    returns = call(results().ListReturns, pb.ListReturnsRequest()).returns
    vacancies = {
        p.batch_code: call(results().ListVacancies, pb.ListVacanciesRequest(batch_code=p.batch_code)).vacancies
        for p in phases
        if p.vacancies_published
    }
    return (
        render_template(
            "results/admin_review.html",
            phases=phases,
            returns=returns,
            vacancies=vacancies,
            message=message,
            error=error,
            local=_local,
        ),
        status,
    )


@bp.get("/review")
@login_required(staff=True, roles=("province",))
def review_page():
    done = request.args.get("done", "")
    return _review_page(message={"returned": "已退档", "opened": "征集计划已发布"}.get(done, ""))


@bp.post("/returns")
@login_required(staff=True, roles=("province",))
def return_candidate():
    req = pb.ReturnCandidateRequest(
        candidate_no=request.form.get("candidate_no", "").strip()[:14],
        reason=request.form.get("reason", "").strip()[:200],
    )
    try:
        call(results().ReturnCandidate, req)
    except BackendError as err:
        if not _refused(err):
            raise
        return _review_page(error=err.message, status=err.status)
    return redirect(url_for("results_admin.review_page", done="returned"))


@bp.post("/solicitation/<batch>")
@login_required(staff=True, roles=("province",))
def open_solicitation(batch: str):
    try:
        opens = _parse_local(request.form.get("opens_at", ""), "开始时间")
        closes = _parse_local(request.form.get("closes_at", ""), "结束时间")
        req = pb.OpenSolicitationRequest(batch_code=batch[:16], opens_at=opens, closes_at=closes)
        call(results().OpenSolicitation, req)
    except BackendError as err:
        if not _refused(err):
            raise
        return _review_page(error=err.message, status=err.status)
    return redirect(url_for("results_admin.review_page", done="opened"))


# ---- lookup and audit ----


@bp.get("/lookup")
@login_required(staff=True)
def lookup_page():
    number = request.args.get("candidate_no", "").strip()[:14]
    found, error, status = None, "", 200
    if number:
        try:
            found = call(results().LookupCandidate, pb.LookupCandidateRequest(candidate_no=number))
        except BackendError as err:
            if err.status >= 500 or err.status == 401:
                raise
            error, status = err.message, err.status
    return render_template("results/admin_lookup.html", number=number, r=found, error=error), status


@bp.get("/audit")
@login_required(staff=True, roles=("province",))
def audit_page():
    actions = call(results().ListStaffActions, pb.ListStaffActionsRequest(limit=200)).actions
    return render_template("results/admin_audit.html", actions=actions)
