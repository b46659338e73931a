"""Public pages linked from the login page: 报名操作流程, 网上报名咨询电话, 考生使用说明 (2.6.1-2.6.3)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("public", __name__)


@bp.get("/guide/process")
def process_page():
    """报名操作流程 (2.6.1)."""
    return render_template("process.html")


@bp.get("/guide/hotlines")
def hotlines_page():
    """网上报名咨询电话 (2.6.2)."""
    return render_template("hotlines.html")


@bp.get("/guide/manual")
def manual_page():
    """考生使用说明 (2.6.3)."""
    return render_template("manual.html")
