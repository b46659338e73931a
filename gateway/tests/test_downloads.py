"""表格下载 through the gateway: the candidate's page, the pledge, the PDFs, the public QR check,
and the admin pages of the exam plan and arrangement, against real auth and registration services.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import cv2
import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from gateway.app import create_app
from gateway.tests.conftest import CANDIDATE, NEW_PASSWORD, Stack, form_with_captcha, hidden, logged_in_client
from gateway.tests.test_registration_pages import flow
from services.auth.main import SPEC as AUTH
from services.registration.documents.tables import TicketPledgeRow
from services.registration.documents.testing import (
    candidate_form,
    documents_spec,
    extracted,
    plan,
    province,
    qualify,
    run_and_publish,
    use_documents,
)
from services.registration.service.calendar import CalendarService
from services.registration.tests.helpers import make_id, publish_outbox_now
from zsb.common.clock import utcnow
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import Settings


class DocStack(Stack):
    registration: ServiceRuntime


@pytest.fixture
def dstack(service_settings, sqlite_url: str, tmp_path: Path, bearer) -> Iterator[DocStack]:
    auth_settings = service_settings("auth", sqlite_url)
    auth = ServiceRuntime(AUTH, auth_settings)
    registration = ServiceRuntime(documents_spec(), service_settings("registration", f"sqlite:///{tmp_path / 'r.db'}"))
    use_documents(registration.ctx)
    auth_port, reg_port = auth.start(), registration.start()
    app = create_app(
        Settings(
            service_name="gateway",
            secret_key="test-secret",
            service_addresses=f"auth=127.0.0.1:{auth_port},registration=127.0.0.1:{reg_port}",
        )
    )
    app.config["TESTING"] = True
    stack = DocStack(app, auth, Path(auth_settings.captcha_answer_sink), Path(auth_settings.sms_sink_path), bearer)
    stack.registration = registration
    yield stack
    registration.stop(grace=0)
    auth.stop(grace=0)


def text(resp) -> str:
    return resp.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict | None = None, page: str = "/home"):
    csrf = hidden(text(client.get(page)))["csrf_token"]
    return client.post(path, data={"csrf_token": csrf, **(data or {})})


def staff(stack: DocStack, username: str, role: str, city: str = "", point: str = "") -> FlaskClient:
    password = stack.staff(username, role, city, point)
    client = stack.client()
    fields = form_with_captcha(stack, client, "/admin/login")
    assert client.post("/admin/login", data={**fields, "username": username, "password": password}).status_code == 302
    csrf = hidden(text(client.get("/admin/password")))["csrf_token"]
    data = {
        "csrf_token": csrf,
        "old_password": password,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    assert client.post("/admin/password", data=data).status_code == 302
    return client


def deps(stack: DocStack):
    from services.registration.documents.service import deps_for

    return deps_for(stack.registration.ctx)


def test_the_candidate_downloads_reads_the_pledge_and_the_ticket_verifies(dstack: DocStack, tmp_path: Path) -> None:
    client = logged_in_client(dstack)
    ctx = dstack.registration.ctx
    with ctx.db.unit_of_work() as session:
        from services.registration.service.facts import open_registration

        open_registration(session, CANDIDATE, "张三", "0113")
    early = client.get("/registration/forms")
    assert early.status_code == 302 and "blocked=forms" in early.headers["Location"]
    qualify(ctx, CANDIDATE, candidate_form(1))
    chart = text(client.get("/registration"))
    assert 'href="/registration/forms"' in chart and flow(chart)["表格下载"] == "available"

    page = text(client.get("/registration/forms"))
    for expected in (
        "表格下载",
        "《报名信息登记表》",
        "《体检表》",
        "《录取加分登记表》",
        "《考生准考证》",
        "考场尚未编排发布",
        "准考证打印：未开始（考场编排发布后开放）",  # the phase is open, but there is no ticket yet
    ):
        assert expected in page, expected
    assert 'href="/registration/forms/registration.pdf"' in page
    assert "您未申请奖励加分" in page  # no bonus claim: no 录取加分登记表
    pdf = client.get("/registration/forms/registration.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''")
    assert "no-store" in pdf.headers["Cache-Control"]
    assert CANDIDATE in extracted(pdf.data) and make_id(101) in extracted(pdf.data)
    assert flow(text(client.get("/registration/forms")))["表格下载"] == "done"  # the step turned green
    refused = client.get("/registration/forms/bonus.pdf")
    assert refused.status_code == 409 and "您未申请奖励加分" in text(refused)
    assert client.get("/registration/forms/other.pdf").status_code == 404

    plan(deps(dstack))
    run_and_publish(deps(dstack))
    page = text(client.get("/registration/forms"))
    assert "座位号" in page and "阅读承诺书" in page and "0101考点山西大学附属中学" in page
    assert "准考证打印：开放中" in page
    before = client.get("/registration/forms/ticket.pdf")
    assert before.status_code == 409 and "请先阅读并同意《考生诚信考试承诺书》" in text(before)

    pledge = text(client.get("/registration/forms/pledge"))
    assert "考生诚信考试承诺书" in pledge and 'data-countdown="10"' in pledge and "我已阅读并同意" in pledge
    assert client.post("/registration/forms/pledge").status_code == 403  # no CSRF token
    soon = post(client, "/registration/forms/pledge", page="/registration/forms/pledge")
    assert soon.status_code == 409 and "秒后才能确认" in text(soon)
    with ctx.db.unit_of_work() as session:
        session.execute(update(TicketPledgeRow).values(shown_at=utcnow() - timedelta(seconds=11)))
    agreed = post(client, "/registration/forms/pledge", page="/registration/forms/pledge")
    assert agreed.status_code == 302 and agreed.headers["Location"].endswith("/registration/forms?agreed=1")
    assert "您已同意《考生诚信考试承诺书》" in text(client.get(agreed.headers["Location"]))

    # Outside the calendar's 准考证打印 phase the page says why, in Chinese (409, not an error page of 500).
    now = utcnow()
    with province():
        CalendarService(ctx).set_phase("ticket_printing", now + timedelta(hours=1), now + timedelta(days=2))
    try:
        closed = client.get("/registration/forms/ticket.pdf")
        assert closed.status_code == 409 and "不在办理时间内：准考证打印将于" in text(closed)
        assert "准考证打印：未开始（" in text(client.get("/registration/forms"))
    finally:
        with province():
            CalendarService(ctx).set_phase("ticket_printing", None, None)
        publish_outbox_now(dstack.registration)

    ticket = client.get("/registration/forms/ticket.pdf")
    assert ticket.status_code == 200 and "准考证" in extracted(ticket.data)
    (tmp_path / "t.pdf").write_bytes(ticket.data)
    subprocess.run(
        ["pdftoppm", "-r", "200", "-png", "-singlefile", str(tmp_path / "t.pdf"), str(tmp_path / "t")], check=True
    )
    url = cv2.QRCodeDetector().detectAndDecode(cv2.imread(str(tmp_path / "t.png")))[0]
    assert url.startswith("https://zsb.example.cn/ticket/verify/")
    path = url.removeprefix("https://zsb.example.cn")

    # The invigilator's phone: no session, no cookies.
    phone = dstack.client()
    check = phone.get(path)
    body = text(check)
    assert check.status_code == 200 and "✔ 有效" in body and "张*明" in body and "张晓明" not in body
    assert CANDIDATE in body and "第001考场" in body and check.headers["Cache-Control"] == "no-store"
    token = path.rsplit("/", 1)[1]
    forged = phone.get(f"/ticket/verify/{token[:-3]}xyz")
    assert forged.status_code == 200 and "验证失败" in text(forged) and CANDIDATE not in text(forged)
    assert phone.get("/ticket/verify/" + "A" * 200).status_code == 404
    # The candidate's documents stay the candidate's: the phone without a session is sent to log in.
    assert phone.get("/registration/forms/registration.pdf").status_code == 302


def test_admin_plan_arrangement_and_candidate_forms(dstack: DocStack) -> None:
    ctx = dstack.registration.ctx
    qualify(ctx, CANDIDATE, candidate_form(1))
    province = staff(dstack, "sheng", "province")
    menu = text(province.get("/admin"))
    assert "考试安排" in menu and "考场编排" in menu and "考生表格" in menu

    page = text(province.get("/admin/exam/plan"))
    assert "添加考点" in page and "尚未设置考点" in page
    bad = post(
        province,
        "/admin/exam/sites",
        {
            "code": "0101",
            "name": "山西大学附属中学",
            "city_code": "01",
            "address": "太原市坞城路1号",
            "rooms": "001;30",
        },
        page="/admin/exam/plan",
    )
    assert bad.status_code == 400 and "第1行格式不正确" in text(bad) and "山西大学附属中学" in text(bad)
    saved = post(
        province,
        "/admin/exam/sites",
        {
            "code": "0101",
            "name": "山西大学附属中学",
            "city_code": "01",
            "address": "太原市坞城路1号",
            "rooms": "001,30,教学楼A101\n002，30",
        },
        page="/admin/exam/plan",
    )
    assert saved.status_code == 302
    page = text(province.get("/admin/exam/plan"))
    assert "山西大学附属中学" in page and ">60<" in page
    edit = text(province.get("/admin/exam/plan?site=0101"))
    assert "001,30,教学楼A101" in edit and "编辑考点 0101" in edit
    overlap = {"major_category": "01", "subject": "大学语文", "day": "2026-04-18", "start": "09:00", "end": "11:30"}
    assert post(province, "/admin/exam/sessions", overlap, page="/admin/exam/plan").status_code == 302
    clash = post(province, "/admin/exam/sessions", {**overlap, "subject": "英语"}, page="/admin/exam/plan")
    assert clash.status_code == 400 and "时间重叠" in text(clash)
    short = post(
        province,
        "/admin/exam/settings",
        {"exam_title": "考试", "arrangement_seed": "zsb"},
        page="/admin/exam/plan",
    )
    assert short.status_code == 400 and "考试名称" in text(short)
    ok = post(
        province,
        "/admin/exam/settings",
        {"exam_title": "2026年山西省普通高校专升本选拔考试", "arrangement_seed": "zsb"},
        page="/admin/exam/plan",
    )
    assert ok.status_code == 302
    # The printing window is the calendar's phase: shown here, with the way to the calendar page.
    shown = text(province.get("/admin/exam/plan"))
    assert "准考证打印时间：准考证打印开放中" in shown and 'href="/admin/calendar#phase-ticket_printing"' in shown
    assert 'name="ticket_open_at"' not in shown

    # City staff read the plan but cannot change it or run the arrangement.
    datong = staff(dstack, "datong", "city", city="02")
    assert "添加考点" not in text(datong.get("/admin/exam/plan"))
    assert post(datong, "/admin/exam/arrangement/run", page="/admin/exam/arrangement").status_code == 403

    run = post(province, "/admin/exam/arrangement/run", page="/admin/exam/arrangement")
    assert run.status_code == 302
    draft = text(province.get(run.headers["Location"]))
    assert "待审核" in draft and "审核无误，发布" in draft and "财经类(01)" in draft
    arrangement_id = re.search(r"编排#(\d+)（待审核）", draft)[1]
    seats = text(province.get(f"/admin/exam/arrangement/{arrangement_id}/seats"))
    assert CANDIDATE in seats and "共 1 人" in seats
    assert CANDIDATE not in text(datong.get(f"/admin/exam/arrangement/{arrangement_id}/seats"))
    published = post(province, f"/admin/exam/arrangement/{arrangement_id}/publish", page="/admin/exam/arrangement")
    assert published.status_code == 302 and "已发布" in text(province.get(published.headers["Location"]))
    again = post(province, f"/admin/exam/arrangement/{arrangement_id}/publish", page="/admin/exam/arrangement")
    assert again.status_code == 409 and "只能发布待审核的编排" in text(again)
    in_use = post(
        province,
        "/admin/exam/sites",
        {
            "code": "0101",
            "name": "山西大学附属中学",
            "city_code": "01",
            "address": "太原市坞城路1号",
            "rooms": "002,30",
        },
        page="/admin/exam/plan",
    )
    assert in_use.status_code == 409 and "已用于编排" in text(in_use)

    # A candidate's documents for staff in scope, masked; out of scope refused.
    point = staff(dstack, "point0113", "point", point="0113")
    found = text(point.get(f"/admin/exam/forms?candidate_no={CANDIDATE}"))
    assert "《考生准考证》" in found and "审核通过" in found
    pdf = point.get(f"/admin/exam/forms/{CANDIDATE}/registration.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert make_id(101) not in extracted(pdf.data) and "1401**********" in extracted(pdf.data)
    ticket = point.get(f"/admin/exam/forms/{CANDIDATE}/ticket.pdf")  # staff: no window or pledge needed
    assert ticket.status_code == 200 and "准考证" in extracted(ticket.data)
    other = staff(dstack, "point0102", "point", point="0102")
    assert other.get(f"/admin/exam/forms?candidate_no={CANDIDATE}").status_code == 403
    assert other.get(f"/admin/exam/forms/{CANDIDATE}/registration.pdf").status_code == 403
    # A candidate's session does not open the staff pages.
    candidate = logged_in_client(dstack)
    assert candidate.get(f"/admin/exam/forms/{CANDIDATE}/registration.pdf").status_code == 302
