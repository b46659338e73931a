"""Candidate side of scores and admission: 成绩与录取信息 (2.10), 分数段统计 (2.6.5) and the
征集志愿 form. The results service decides what a candidate may see (only published data, only
their own); this module renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from gateway.errors import BackendError, call
from gateway.security import login_required
from zsb.common.clock import BEIJING
from zsb.results.v1 import results_pb2 as pb

bp = Blueprint("results", __name__)
MENU = [
    (65, "分数段统计", "results.bands_page"),
    (80, "成绩与录取信息", "results.index"),
]
SLOTS = "ABCDEFGH"
# Geometry of the score-band chart in SVG user units. The chart scales to the page's width (up to
# 600 px, see results.css): narrow enough that its labels stay readable on a phone.
CHART_WIDTH = 420
LABEL_WIDTH = 72
ROW_HEIGHT = 20
BAR_GAP = 4


def results():
    return current_app.extensions["backends"].results


@bp.app_template_filter("results_time")
def results_time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if ts else ""


def _batch_code(raw: str) -> str:
    code = (raw or "").strip()
    if not code or not code.isascii() or not code.isalnum() or len(code) > 16:
        abort(404)
    return code


@bp.get("/results")
@login_required()
def index():
    resp = call(results().GetMyResults, pb.GetMyResultsRequest())
    return render_template("results/index.html", r=resp)


@dataclass(frozen=True)
class Bar:
    y: int
    width: int
    label: str
    count: int
    mine: bool


def chart_bars(bands: pb.ScoreBands) -> tuple[list[Bar], int]:
    """Horizontal bars, highest band on top, widths relative to the largest band."""
    room = CHART_WIDTH - LABEL_WIDTH - 50  # room for the count after the longest bar
    top = max(bands.highest_count, 1)
    bars = [
        Bar(
            y=k * ROW_HEIGHT,
            width=max(round(b.count / top * room), 1 if b.count else 0),
            label=f"{b.low}–{b.high}",
            count=b.count,
            mine=b.mine,
        )
        for k, b in enumerate(bands.bands)
    ]
    return bars, len(bars) * ROW_HEIGHT


@bp.get("/results/bands")
@login_required()
def bands_page():
    bands = call(results().GetScoreBands, pb.GetScoreBandsRequest())
    bars, height = chart_bars(bands)
    return render_template(
        "results/bands.html",
        bands=bands,
        bars=bars,
        height=height,
        width=CHART_WIDTH,
        label_width=LABEL_WIDTH,
        bar_height=ROW_HEIGHT - BAR_GAP,
    )


# ---- 征集志愿 ----


def _render_form(form: pb.SolicitationForm, picks: dict[str, str], message: str = "", errors=(), status: int = 200):
    return (
        render_template(
            "results/solicitation.html",
            form=form,
            picks=picks,
            slots=SLOTS,
            message=message,
            errors={e.slot: e.message for e in errors},
        ),
        status,
    )


@bp.get("/results/solicitation/<batch>")
@login_required()
def solicitation(batch: str):
    form = call(results().GetSolicitationForm, pb.GetSolicitationFormRequest(batch_code=_batch_code(batch)))
    picks = {c.slot: f"{c.institution_code}|{c.major_code}" for c in form.current}
    saved = request.args.get("saved") == "1"
    return _render_form(form, picks, message="征集志愿已提交" if saved else "")[0]


@bp.post("/results/solicitation/<batch>")
@login_required()
def solicitation_submit(batch: str):
    code = _batch_code(batch)
    picks = {s: request.form.get(f"pick_{s}", "").strip()[:40] for s in SLOTS}
    choices = []
    for slot, value in picks.items():
        institution, _, major = value.partition("|")
        if institution or major:
            choices.append(pb.SolicitationChoice(slot=slot, institution_code=institution, major_code=major))
    try:
        resp = call(results().SubmitSolicitation, pb.SubmitSolicitationRequest(batch_code=code, choices=choices))
    except BackendError as err:
        if err.status >= 500 or err.status in (401, 403):
            raise
        form = call(results().GetSolicitationForm, pb.GetSolicitationFormRequest(batch_code=code))
        return _render_form(form, picks, message=err.message, status=err.status)
    if resp.errors:
        form = call(results().GetSolicitationForm, pb.GetSolicitationFormRequest(batch_code=code))
        return _render_form(
            form, picks, message="提交未成功，请按提示修改（本次未保存）", errors=resp.errors, status=400
        )
    return redirect(url_for("results.solicitation", batch=code, saved=1))
