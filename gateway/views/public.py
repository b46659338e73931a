"""Public pages linked from the login page: 报名操作流程, 网上报名咨询电话, 考生使用说明 (2.6.1-2.6.3),
and the notices (公告) the login and home pages show. The province edits all of it (content_admin);
the registration service stores it and serves it without an access token."""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import groupby
from typing import TypeVar

from flask import Blueprint, current_app, render_template

from gateway.errors import BUSY, BackendError, call
from zsb.common.context import reset_access_token, set_access_token
from zsb.common.discovery import ServiceUnavailable
from zsb.registration.v1 import registration_pb2 as pb

bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)
T = TypeVar("T")
HOME_NOTICES = 10
NOTICES_TIMEOUT = 2.0  # the login page waits no longer than this for its notices
GUIDE_TIMEOUT = 5.0
UNAVAILABLE = "内容暂时无法加载，请稍后刷新页面"


def public_call(method: str, req: object, timeout: float = 15.0) -> object:
    """A public read of the registration service, carrying no one's access token."""
    previous = set_access_token("")
    try:
        try:
            stub = current_app.extensions["backends"].registration
        except ServiceUnavailable as exc:
            raise BackendError(503, BUSY, "UNAVAILABLE") from exc
        return call(getattr(stub, method), req, timeout=timeout)
    finally:
        reset_access_token(previous)


def _or_empty(fn: Callable[[], T], empty: T) -> T:
    """Notices must never break the login page: without the service they are simply not shown."""
    try:
        return fn()
    except BackendError as err:
        log.warning("site content unavailable", extra={"reason": err.reason})
        return empty


@bp.app_context_processor
def notices_helper() -> dict:
    def site_notices(limit: int = HOME_NOTICES) -> list:
        req = pb.ListNoticesRequest(limit=limit)
        return _or_empty(lambda: list(public_call("ListNotices", req, NOTICES_TIMEOUT).notices), [])

    return {"site_notices": site_notices, "content_unavailable": UNAVAILABLE}


def paragraphs(body: str) -> list[str]:
    return [p.strip() for p in body.split("\n\n") if p.strip()]


def _site_page(key: str) -> pb.SitePage | None:
    req = pb.GetSitePageRequest(key=key)
    return _or_empty(lambda: public_call("GetSitePage", req, GUIDE_TIMEOUT), None)


# Without the registration service the guide pages still load and say the text is unavailable.


@bp.get("/guide/process")
def process_page():
    """报名操作流程 (2.6.1): one step a line."""
    page = _site_page("process")
    steps = [line.strip() for line in page.body.splitlines() if line.strip()] if page else []
    return render_template("process.html", page=page, steps=steps, unavailable=page is None)


@bp.get("/guide/hotlines")
def hotlines_page():
    """网上报名咨询电话 (2.6.2), grouped by city."""
    resp = _or_empty(lambda: public_call("ListHotlines", pb.ListHotlinesRequest(), GUIDE_TIMEOUT), None)
    lines = resp.hotlines if resp is not None else []
    cities = [(name, list(group)) for name, group in groupby(lines, key=lambda h: h.city_name)]
    return render_template("hotlines.html", cities=cities, unavailable=resp is None)


@bp.get("/guide/manual")
def manual_page():
    """考生使用说明 (2.6.3): paragraphs separated by blank lines."""
    page = _site_page("manual")
    return render_template(
        "manual.html", page=page, paragraphs=paragraphs(page.body) if page else [], unavailable=page is None
    )
